/**
 * A reader for the protobuf text format (the syntax of Triton's `config.pbtxt`).
 *
 * Written here rather than taken from npm: the JavaScript protobuf libraries (protobufjs, @bufbuild/protobuf)
 * read binary and JSON but not the text format, and the one text-format parser on npm is a 0.x package with
 * few users. The grammar is small; without a schema every field is read as a list of values, and the Triton
 * reader (`triton-config.ts`) decides which fields are repeated.
 * @see https://protobuf.dev/reference/protobuf/textformat-spec/
 */

/** An enum value or `true`/`false`, as written. */
export class TextIdent {
  constructor(public readonly name: string) {}
  toString(): string {
    return this.name;
  }
}

/** A field value. */
export type TextValue = string | number | TextIdent | TextMessage;

/** A message: each field name maps to every value given for it, in order. */
export type TextMessage = Map<string, TextValue[]>;

/** A syntax error, with the line and column where it is. */
export class TextFormatError extends Error {
  constructor(
    message: string,
    public readonly line: number,
    public readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
    this.name = 'TextFormatError';
  }
}

interface Token {
  kind: 'ident' | 'string' | 'number' | 'punct' | 'eof';
  text: string;
  value?: string | number;
  line: number;
  column: number;
}

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const advance = (n: number) => {
    for (let k = 0; k < n; k++) {
      if (src[i] === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  while (i < src.length) {
    const c = src[i];
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') advance(1);
      continue;
    }
    if (/\s/.test(c)) {
      advance(1);
      continue;
    }
    const start = { line, column: col };
    if ('{}[]<>:,;'.includes(c)) {
      tokens.push({ kind: 'punct', text: c, ...start });
      advance(1);
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      let out = '';
      while (j < src.length && src[j] !== c) {
        if (src[j] === '\n') throw new TextFormatError('unterminated string', start.line, start.column);
        if (src[j] === '\\') {
          const e = src[j + 1];
          const map: Record<string, string> = {
            n: '\n',
            t: '\t',
            r: '\r',
            '\\': '\\',
            '"': '"',
            "'": "'",
            '0': '\0',
          };
          if (e === undefined) break;
          out += map[e] ?? e;
          j += 2;
        } else {
          out += src[j];
          j++;
        }
      }
      if (j >= src.length) throw new TextFormatError('unterminated string', start.line, start.column);
      tokens.push({ kind: 'string', text: src.slice(i, j + 1), value: out, ...start });
      advance(j + 1 - i);
      continue;
    }
    const num = /^[-+]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)[fF]?/.exec(src.slice(i));
    if (num && /[-+.\d]/.test(c)) {
      const text = num[0];
      const clean = text.replace(/[fF]$/, '');
      const value = /^[-+]?0[xX]/.test(clean) ? parseInt(clean, 16) : Number(clean);
      tokens.push({ kind: 'number', text, value, ...start });
      advance(text.length);
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(src.slice(i));
    if (id) {
      tokens.push({ kind: 'ident', text: id[0], ...start });
      advance(id[0].length);
      continue;
    }
    throw new TextFormatError(`unexpected character '${c}'`, line, col);
  }
  tokens.push({ kind: 'eof', text: '<end of input>', line, column: col });
  return tokens;
}

/** Parses protobuf text format into a schema-less message tree. */
export function parseTextFormat(src: string): TextMessage {
  const tokens = tokenize(src);
  let p = 0;
  const peek = () => tokens[p];
  const next = () => tokens[p++];
  const fail = (t: Token, what: string): never => {
    throw new TextFormatError(`expected ${what}, found '${t.text}'`, t.line, t.column);
  };
  const punct = (ch: string) => peek().kind === 'punct' && peek().text === ch;

  const scalar = (): TextValue => {
    const t = next();
    if (t.kind === 'string') {
      let s = t.value as string;
      while (peek().kind === 'string') s += next().value as string; // adjacent strings concatenate
      return s;
    }
    if (t.kind === 'number') return t.value as number;
    if (t.kind === 'ident') {
      if (/^-?(inf|infinity|nan)$/i.test(t.text)) return Number(t.text.replace(/^inf$/i, 'Infinity'));
      return new TextIdent(t.text);
    }
    return fail(t, 'a value');
  };

  const message = (close: string | undefined): TextMessage => {
    const msg: TextMessage = new Map();
    for (;;) {
      const t = peek();
      if (close === undefined && t.kind === 'eof') return msg;
      if (close !== undefined && t.kind === 'punct' && t.text === close) {
        next();
        return msg;
      }
      if (t.kind !== 'ident') fail(t, close ? `a field name or '${close}'` : 'a field name');
      const name = next().text;
      const values = msg.get(name) ?? [];
      msg.set(name, values);
      const colon = punct(':');
      if (colon) next();
      if (punct('{') || punct('<')) {
        const open = next().text;
        values.push(message(open === '{' ? '}' : '>'));
      } else if (punct('[')) {
        // `field: [ … ]`, and `field [ { … } ]` (the colon may be left out before a list of messages).
        next();
        if (!punct(']')) {
          for (;;) {
            if (punct('{') || punct('<')) {
              const open = next().text;
              values.push(message(open === '{' ? '}' : '>'));
            } else values.push(scalar());
            if (punct(',')) {
              next();
              continue;
            }
            break;
          }
        }
        if (!punct(']')) fail(peek(), "',' or ']'");
        next();
      } else if (colon) {
        values.push(scalar());
      } else {
        fail(peek(), `':' or '{' after '${name}'`);
      }
      if (punct(',') || punct(';')) next();
    }
  };

  return message(undefined);
}
