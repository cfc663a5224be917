// A RowSink writing one staging CSV file per table. Rows are encoded straight
// into byte chunks and written synchronously: each ingest worker owns its
// files, so a blocking write stalls nobody else.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { RowSink, StagingTable } from './csv-rows.ts';

const CHUNK_BYTES = 1 << 20;

/** What a sink wrote: file per table and row counts. */
export interface CsvOutput {
  readonly files: Partial<Record<StagingTable, string>>;
  readonly rows: Partial<Record<StagingTable, number>>;
}

interface TableFile {
  readonly path: string;
  readonly fd: number;
  chunk: Buffer;
  offset: number;
  rows: number;
}

export class CsvFiles implements RowSink {
  readonly #dir: string;
  readonly #prefix: string;
  readonly #tables = new Map<StagingTable, TableFile>();

  /** Files are `<dir>/<prefix>-<table>.csv`, created on their first row. */
  constructor(dir: string, prefix: string) {
    this.#dir = dir;
    this.#prefix = prefix;
  }

  row(table: StagingTable, csvLine: string): void {
    let file = this.#tables.get(table);
    if (file === undefined) {
      const path = join(this.#dir, `${this.#prefix}-${table}.csv`);
      file = {
        path,
        fd: openSync(path, 'w'),
        chunk: Buffer.allocUnsafe(CHUNK_BYTES),
        offset: 0,
        rows: 0,
      };
      this.#tables.set(table, file);
    }
    // UTF-8 needs at most three bytes per UTF-16 unit.
    const worst = csvLine.length * 3;
    if (file.offset + worst > file.chunk.length) {
      writeAll(file.fd, file.chunk, file.offset);
      if (worst > file.chunk.length) file.chunk = Buffer.allocUnsafe(worst);
      file.offset = 0;
    }
    file.offset += file.chunk.write(csvLine, file.offset);
    file.rows += 1;
  }

  /** Writes what is buffered and closes the files. */
  close(): CsvOutput {
    const files: Partial<Record<StagingTable, string>> = {};
    const rows: Partial<Record<StagingTable, number>> = {};
    for (const [table, file] of this.#tables) {
      writeAll(file.fd, file.chunk, file.offset);
      closeSync(file.fd);
      files[table] = file.path;
      rows[table] = file.rows;
    }
    this.#tables.clear();
    return { files, rows };
  }

  /** Closes the files without flushing (after a failure). */
  abort(): void {
    for (const file of this.#tables.values()) closeSync(file.fd);
    this.#tables.clear();
  }
}

function writeAll(fd: number, chunk: Buffer, length: number): void {
  let written = 0;
  while (written < length) written += writeSync(fd, chunk, written, length - written);
}
