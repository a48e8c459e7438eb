import type { Writable } from 'node:stream';

/**
 * One line at the bottom of a terminal that is rewritten in place (the live countdown of
 * `latch connect`). Other lines printed through it go above it. On anything that is not a
 * terminal it draws nothing and prints lines as they come.
 */
export class StatusLine {
  readonly #out: Writable;
  readonly #tty: boolean;
  #text = '';

  constructor(out: Writable & { isTTY?: boolean }) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  get enabled(): boolean {
    return this.#tty;
  }

  update(text: string): void {
    if (!this.#tty || text === this.#text) return;
    this.#text = text;
    this.#out.write(`\r\x1b[2K${text}`);
  }

  /** Prints a whole line above the status line. */
  print(line: string): void {
    if (this.#tty && this.#text !== '') this.#out.write('\r\x1b[2K');
    this.#out.write(`${line}\n`);
    if (this.#tty && this.#text !== '') this.#out.write(this.#text);
  }

  clear(): void {
    if (this.#tty && this.#text !== '') this.#out.write('\r\x1b[2K');
    this.#text = '';
  }
}
