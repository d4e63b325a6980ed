/**
 * One `<hex> <name>` line of `checksum --entries` / `tarsum --entries`, readable by
 * line whatever the name holds, in the convention of `sha256sum`: a name with a
 * newline, carriage return or backslash is escaped (`\n`, `\r`, `\\`) and the line then
 * starts with a backslash. Bytes that are not UTF-8 (kept escaped in the name, see
 * `core/names.ts`) are written `\xHH` in such a line too, where `sha256sum` would write
 * them raw and the output could not be read as text.
 * @module
 */

const ESCAPED_BYTE_LOW = 0xdc80;
const ESCAPED_BYTE_HIGH = 0xdcff;

/**
 * The line for `name` with checksum `hex`, newline included.
 *
 * @example
 * ```ts
 * entryLine("6ef7…", "a b"); // "6ef7… a b\n"
 * entryLine("6ef7…", "two\nlines"); // "\\6ef7… two\\nlines\n"
 * ```
 */
export function entryLine(hex: string, name: string): string {
  // Fast path: nothing to escape in almost every name.
  if (!/[\n\r\\\udc80-\udcff]/.test(name)) return `${hex} ${name}\n`;
  let out = "";
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x5c) out += "\\\\";
    else if (c >= ESCAPED_BYTE_LOW && c <= ESCAPED_BYTE_HIGH && !isHighSurrogate(name.charCodeAt(i - 1))) {
      out += `\\x${(c - 0xdc00).toString(16).padStart(2, "0")}`;
    } else out += name[i];
  }
  return `\\${hex} ${out}\n`;
}

function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

/**
 * The name an escaped `--entries` line shows, back as fscache holds it: `\\`, `\n`, `\r`
 * and `\xHH` undone (a byte `\xHH` of 0x80 or more as the escaped byte it stands for).
 * `undefined` for a malformed escape.
 *
 * @example
 * ```ts
 * parseEntryName("caf\\xe9"); // "caf\udce9", the name whose bytes are 63 61 66 e9
 * parseEntryName("two\\nlines"); // "two\nlines"
 * ```
 */
export function parseEntryName(text: string): string | undefined {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = text[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === "r") out += "\r";
    else if (next === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      const byte = Number.parseInt(text.slice(i + 1, i + 3), 16);
      out += String.fromCharCode(byte < 0x80 ? byte : 0xdc00 + byte);
      i += 2;
    } else return undefined;
  }
  return out;
}
