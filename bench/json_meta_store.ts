/**
 * A minimal MetaStore in one JSON file, for the benchmark driver only (the project's
 * crash-safe disk MetaStore is a separate piece of work). Hash trees are not kept.
 */
import * as fs from "node:fs";
import type { MetaStore, SourceRecord } from "../mod.ts";

/** Records in one JSON file, rewritten on every change. */
export class JsonFileMetaStore implements MetaStore {
  readonly #file: string;
  #records = new Map<string, SourceRecord>();

  constructor(file: string) {
    this.#file = file;
    if (fs.existsSync(file)) {
      for (const r of JSON.parse(fs.readFileSync(file, "utf8")) as SourceRecord[]) this.#records.set(r.key, r);
    }
  }
  async loadAll(): Promise<SourceRecord[]> {
    return [...this.#records.values()].map((r) => ({ ...r }));
  }
  async put(record: SourceRecord): Promise<void> {
    this.#records.set(record.key, { ...record });
    this.#save();
  }
  async delete(key: string): Promise<void> {
    this.#records.delete(key);
    this.#save();
  }
  async rebase(oldKey: string, record: SourceRecord): Promise<void> {
    this.#records.delete(oldKey);
    this.#records.set(record.key, { ...record });
    this.#save();
  }
  async getHashTree(): Promise<Uint8Array | undefined> {
    return undefined;
  }
  async putHashTree(): Promise<void> {}
  async close(): Promise<void> {}
  #save(): void {
    fs.writeFileSync(`${this.#file}.tmp`, JSON.stringify([...this.#records.values()]));
    fs.renameSync(`${this.#file}.tmp`, this.#file);
  }
}
