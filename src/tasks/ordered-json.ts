/**
 * Reads a flat JSON object of string → string *in file order*. JSON.parse cannot be used for
 * order: JavaScript enumerates integer-like keys ("11314340", the Davis ligand ids) in numeric
 * order, not file order, and the Davis affinity matrix rows follow file order (as Python's json,
 * which DeepDTA used, keeps it).
 */

export type OrderedEntries = { ok: true; entries: Array<[string, string]> } | { ok: false; error: string };

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const SPACE = /[ \t\n\r]*/y;

export function parseOrderedStringMap(text: string): OrderedEntries {
  let pos = 0;
  const skip = () => {
    SPACE.lastIndex = pos;
    SPACE.exec(text);
    pos = SPACE.lastIndex;
  };
  const expect = (ch: string) => {
    skip();
    if (text[pos] !== ch) throw new Error(`expected '${ch}' at offset ${pos}`);
    pos++;
  };
  const string = (): string => {
    skip();
    STRING.lastIndex = pos;
    const m = STRING.exec(text);
    if (!m) throw new Error(`expected a string at offset ${pos}`);
    pos = STRING.lastIndex;
    return JSON.parse(m[0]) as string;
  };
  try {
    if (text.charCodeAt(0) === 0xfeff) pos = 1;
    const entries: Array<[string, string]> = [];
    expect('{');
    skip();
    if (text[pos] === '}') pos++;
    else {
      for (;;) {
        const key = string();
        expect(':');
        entries.push([key, string()]);
        skip();
        if (text[pos] === ',') pos++;
        else if (text[pos] === '}') {
          pos++;
          break;
        } else throw new Error(`expected ',' or '}' at offset ${pos}`);
      }
    }
    skip();
    if (pos !== text.length) throw new Error(`unexpected text after the object at offset ${pos}`);
    return { ok: true, entries };
  } catch (e) {
    return { ok: false, error: `not a JSON object of strings: ${(e as Error).message}` };
  }
}
