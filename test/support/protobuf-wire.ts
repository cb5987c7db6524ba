// Protocol Buffers wire format by hand (https://protobuf.dev/programming-guides/encoding/), for tests that send
// KServe v2 gRPC messages byte for byte as the protocol documents them, independent of the server's .proto file.

/** A varint. */
export function varint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) b |= 0x80;
    out.push(b);
  } while (v !== 0n);
  return Buffer.from(out);
}

const tag = (field: number, wireType: number) => varint((field << 3) | wireType);

/** A varint field (bool, int32, int64, uint64, enum). */
export const varintField = (field: number, value: number | bigint | boolean): Buffer =>
  Buffer.concat([tag(field, 0), varint(typeof value === 'boolean' ? Number(value) : value)]);

/** A length-delimited field (string, bytes, embedded message, packed repeated scalars). */
export function bytesField(field: number, value: Buffer | string): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([tag(field, 2), varint(b.length), b]);
}

/** A packed repeated varint field (proto3's default encoding of `repeated int64`). */
export const packedVarints = (field: number, values: readonly (number | bigint)[]): Buffer =>
  bytesField(field, Buffer.concat(values.map((v) => varint(v))));

/** A packed repeated float field. */
export function packedFloats(field: number, values: readonly number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return bytesField(field, b);
}

/** A decoded field: varints as bigint, length-delimited as bytes, fixed-width as their bytes. */
export type WireValue = bigint | Buffer;

/** Decodes a message into its fields by number (repeated fields keep every occurrence in order). */
export function decodeMessage(buf: Buffer): Map<number, WireValue[]> {
  const fields = new Map<number, WireValue[]>();
  let off = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[off++];
      if (b === undefined) throw new Error('truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (off < buf.length) {
    const key = Number(readVarint());
    const field = key >> 3;
    const wire = key & 7;
    let value: WireValue;
    if (wire === 0) value = readVarint();
    else if (wire === 2) {
      const len = Number(readVarint());
      value = buf.subarray(off, off + len);
      off += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      value = buf.subarray(off, off + len);
      off += len;
    } else throw new Error(`unsupported wire type ${wire}`);
    fields.set(field, [...(fields.get(field) ?? []), value]);
  }
  return fields;
}

/** Decodes a packed repeated varint field's bytes. */
export function unpackVarints(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  let off = 0;
  while (off < buf.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[off++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7n;
    }
    out.push(result);
  }
  return out;
}
