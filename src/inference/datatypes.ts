/**
 * KServe v2 / Open Inference Protocol datatypes (the names Triton uses on the wire).
 * @see https://github.com/kserve/open-inference-protocol/blob/main/specification/protocol/inference_rest.md#tensor-data-types
 */
/**
 * onnxruntime's tensor element type names (`Tensor.Type` of onnxruntime-common) that KServe v2 datatypes map to,
 * declared here so that mlstack's declarations need no onnxruntime types.
 */
export type OrtElementType =
  | 'bool'
  | 'uint8'
  | 'uint16'
  | 'uint32'
  | 'uint64'
  | 'int8'
  | 'int16'
  | 'int32'
  | 'int64'
  | 'float16'
  | 'float32'
  | 'float64'
  | 'string';

export type KServeDatatype =
  | 'BOOL'
  | 'UINT8'
  | 'UINT16'
  | 'UINT32'
  | 'UINT64'
  | 'INT8'
  | 'INT16'
  | 'INT32'
  | 'INT64'
  | 'FP16'
  | 'FP32'
  | 'FP64'
  | 'BYTES';

interface DatatypeInfo {
  readonly kserve: KServeDatatype;
  /** Triton `config.pbtxt` data_type. */
  readonly triton: string;
  /** onnxruntime-node tensor type. */
  readonly ort: OrtElementType;
  /** Bytes per element in the binary tensor extension; 0 for BYTES (length-prefixed). */
  readonly size: number;
}

const TABLE: readonly DatatypeInfo[] = [
  { kserve: 'BOOL', triton: 'TYPE_BOOL', ort: 'bool', size: 1 },
  { kserve: 'UINT8', triton: 'TYPE_UINT8', ort: 'uint8', size: 1 },
  { kserve: 'UINT16', triton: 'TYPE_UINT16', ort: 'uint16', size: 2 },
  { kserve: 'UINT32', triton: 'TYPE_UINT32', ort: 'uint32', size: 4 },
  { kserve: 'UINT64', triton: 'TYPE_UINT64', ort: 'uint64', size: 8 },
  { kserve: 'INT8', triton: 'TYPE_INT8', ort: 'int8', size: 1 },
  { kserve: 'INT16', triton: 'TYPE_INT16', ort: 'int16', size: 2 },
  { kserve: 'INT32', triton: 'TYPE_INT32', ort: 'int32', size: 4 },
  { kserve: 'INT64', triton: 'TYPE_INT64', ort: 'int64', size: 8 },
  { kserve: 'FP16', triton: 'TYPE_FP16', ort: 'float16', size: 2 },
  { kserve: 'FP32', triton: 'TYPE_FP32', ort: 'float32', size: 4 },
  { kserve: 'FP64', triton: 'TYPE_FP64', ort: 'float64', size: 8 },
  // Triton calls string tensors TYPE_STRING in config.pbtxt and BYTES on the wire.
  { kserve: 'BYTES', triton: 'TYPE_STRING', ort: 'string', size: 0 },
];

/** Every KServe datatype mlstack serves. */
export const KSERVE_DATATYPES: readonly KServeDatatype[] = TABLE.map((t) => t.kserve);

/** The KServe datatype of an onnxruntime tensor type; undefined for types the protocol cannot carry. */
export function kserveFromOrt(type: string): KServeDatatype | undefined {
  return TABLE.find((t) => t.ort === type)?.kserve;
}

/** The onnxruntime tensor type of a KServe datatype. */
export function ortFromKserve(dt: KServeDatatype): OrtElementType {
  return info(dt).ort;
}

/** The Triton `TYPE_*` name of a KServe datatype. */
export function tritonFromKserve(dt: KServeDatatype): string {
  return info(dt).triton;
}

/** The KServe datatype of a Triton `TYPE_*` name; undefined when unknown. */
export function kserveFromTriton(t: string): KServeDatatype | undefined {
  return TABLE.find((x) => x.triton === t)?.kserve;
}

/** Bytes per element in binary tensor data; 0 for BYTES. */
export function elementSize(dt: KServeDatatype): number {
  return info(dt).size;
}

/** Whether `s` is a KServe datatype. */
export function isKServeDatatype(s: unknown): s is KServeDatatype {
  return typeof s === 'string' && TABLE.some((t) => t.kserve === s);
}

function info(dt: KServeDatatype): DatatypeInfo {
  const i = TABLE.find((t) => t.kserve === dt);
  if (!i) throw new Error(`unknown datatype ${dt}`);
  return i;
}

/** IEEE 754 half-precision bits of a number (round to nearest even). */
export function toFloat16Bits(value: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

/** The number a half-precision bit pattern stands for. */
export function fromFloat16Bits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (mant / 1024);
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + mant / 1024);
}
