import { readFileSync } from 'node:fs';

/** Commonly chosen PINs, keyed by PIN length. */
export type CommonPinList = ReadonlyMap<number, ReadonlySet<string>>;

// Resolves to <repo>/common-pins/ from both src/pin/ (tsx, vitest) and dist/pin/ (build).
const LIST_DIR = new URL('../../common-pins/', import.meta.url);

// Which shipped files make up the list for each PIN length (see common-pins/SOURCE.md).
const FILES_BY_LENGTH: ReadonlyArray<readonly [number, readonly string[]]> = [
  [4, ['iOS-4-digit.txt']],
  [6, ['iOS-6-digit.txt', 'DD-6-digit-29.txt']],
];

let cached: CommonPinList | undefined;

function readList(file: string, length: number): string[] {
  const text = readFileSync(new URL(file, LIST_DIR), 'utf8');
  const pins = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  // A corrupt shipped file would silently weaken the check, so fail loudly instead.
  const bad = pins.find((pin) => pin.length !== length || !/^[0-9]+$/.test(pin));
  if (bad !== undefined) {
    throw new Error(`common-pins/${file}: entry is not a ${length}-digit PIN`);
  }
  return pins;
}

/** Loads the shipped common-PIN lists once and caches them for the life of the process. */
export function loadCommonPins(): CommonPinList {
  if (cached === undefined) {
    const lists = new Map<number, ReadonlySet<string>>();
    for (const [length, files] of FILES_BY_LENGTH) {
      lists.set(length, new Set(files.flatMap((file) => readList(file, length))));
    }
    cached = lists;
  }
  return cached;
}
