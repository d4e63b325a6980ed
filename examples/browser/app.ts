/**
 * The example page's script (bundled by `npm run build:browser` into
 * `dist/browser/example.js`): pick a folder, sync it into the in-browser cache, list
 * the sources with their checksums and sizes, `du` and `prune`; push the picked folder
 * to an `fscache serve` over a WebSocket, or pull a source from it into this cache.
 *
 * `?uid=N&gid=N` in the page's address set the owner every snapshot entry reports (and
 * every pushed entry), so the checksums equal those a Linux host computes for the same
 * files owned by N. `?server=ws://HOST:PORT/` fills in the server's address.
 * @module
 */
import {
  BrowserFolderTransport,
  FSCache,
  IdbMetaStore,
  OpfsBackend,
  type PickedDirectory,
  type PickedFolder,
  pullInto,
  pushFolder,
} from "../../browser.ts";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const owner = (name: string) => {
  const value = Number(params.get(name) ?? "0");
  return Number.isInteger(value) && value >= 0 ? value : 0;
};

const backend = new OpfsBackend({ uid: owner("uid"), gid: owner("gid") });
const cache = await FSCache.open({ backend, metaStore: new IdbMetaStore({ dbName: "fscache-example" }) });
const transport = new BrowserFolderTransport();
cache.registerTransport("folder", transport);

function setStatus(text: string, error = false): void {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]} (${bytes} B)`;
}

async function renderSources(): Promise<void> {
  const rows: HTMLTableRowElement[] = [];
  const sources = (await cache.sources()).sort((a, b) => b.lastUsed - a.lastUsed);
  for (const info of sources) {
    const src = await cache.get(info.key);
    const checksum = src ? await src.hash(".") : "(being synced)";
    await src?.close();
    const row = document.createElement("tr");
    row.dataset.key = info.key;
    row.dataset.size = String(info.size);
    for (const [text, cls] of [
      [info.key, "mono"],
      [info.sharedKey, "mono shared"],
      [checksum, "mono checksum"],
      [formatBytes(info.size), "num"],
      [new Date(info.lastUsed).toLocaleString(), ""],
    ] as const) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) cell.className = cls;
      row.append(cell);
    }
    rows.push(row);
  }
  const body = $("sources");
  if (rows.length === 0) body.innerHTML = '<tr><td colspan="5" class="muted">none</td></tr>';
  else body.replaceChildren(...rows);
}

/**
 * Serializes the page's actions, and tells tests when they are done: `data-state` is
 * `idle` between actions and `data-done` counts the finished ones.
 */
let queue: Promise<void> = Promise.resolve();
let done = 0;
function run(action: () => Promise<void>): void {
  document.body.dataset.state = "busy";
  queue = queue
    .then(action)
    .catch((err) => setStatus(String((err as Error)?.message ?? err), true))
    .finally(() => {
      document.body.dataset.done = String(++done);
      document.body.dataset.state = "idle";
    });
}

/** The folder picked last, for "push". */
let picked: { folder: PickedFolder; name: string } | undefined;

async function sync(folder: PickedFolder, name: string): Promise<void> {
  picked = { folder, name };
  $<HTMLButtonElement>("push").disabled = false;
  setStatus(`syncing ${name}…`);
  transport.folder = folder;
  const started = performance.now();
  // Like `docker build`: a fresh key per sync, the folder's name as shared key, so a
  // second sync of the same folder reuses the snapshot and copies only what changed.
  await using src = await cache.syncFrom({
    key: `sync-${crypto.randomUUID()}`,
    sharedKey: `folder:${name}`,
    transport: "folder",
  });
  const checksum = await src.hash(".");
  $("checksum").textContent = checksum;
  $("checksum").classList.remove("muted");
  const s = transport.lastSummary;
  setStatus(
    `synced ${name}: ${s?.added} added, ${s?.modified} modified, ${s?.deleted} deleted, ${s?.unchanged} unchanged, ` +
      `${s?.bytesCopied} bytes copied in ${Math.round(performance.now() - started)} ms`,
  );
  await renderSources();
}

$<HTMLInputElement>("folder").addEventListener("change", (event) => {
  const input = event.target as HTMLInputElement;
  const files = input.files;
  if (!files || files.length === 0) return;
  const name = files[0]?.webkitRelativePath.split("/")[0] || "folder";
  run(() => sync(files, name));
});

const picker = (globalThis as { showDirectoryPicker?: () => Promise<unknown> }).showDirectoryPicker;
if (typeof picker === "function") {
  const button = $("pick");
  button.hidden = false;
  button.addEventListener("click", async () => {
    const handle = (await picker()) as PickedDirectory;
    run(() => sync(handle, handle.name));
  });
}

function server(): { url: string; token?: string } {
  const url = $<HTMLInputElement>("server").value.trim();
  const token = $<HTMLInputElement>("token").value;
  return token === "" ? { url } : { url, token };
}

$<HTMLInputElement>("server").value = params.get("server") ?? "ws://127.0.0.1:7373/";

$("push").addEventListener("click", () =>
  run(async () => {
    if (!picked) throw new Error("pick a folder first");
    setStatus(`pushing ${picked.name}…`);
    const started = performance.now();
    const result = await pushFolder(picked.folder, {
      ...server(),
      uid: owner("uid"),
      gid: owner("gid"),
      sharedKey: `folder:${picked.name}`,
    });
    const out = $("push-result");
    out.textContent = `${result.key} ${result.checksum}`;
    out.dataset.key = result.key;
    out.dataset.checksum = result.checksum;
    $<HTMLInputElement>("pull-key").value = result.key;
    setStatus(
      `pushed ${picked.name}: ${result.added} added, ${result.modified} modified, ${result.deleted} deleted, ` +
        `${result.bytesSent} bytes sent in ${Math.round(performance.now() - started)} ms`,
    );
  }),
);

$("pull").addEventListener("click", () =>
  run(async () => {
    const key = $<HTMLInputElement>("pull-key").value.trim();
    if (key === "") throw new Error("enter the key of a source on the server");
    setStatus(`pulling ${key}…`);
    const started = performance.now();
    const result = await pullInto(cache, { ...server(), key });
    const out = $("pull-result");
    out.textContent = result.checksum;
    out.dataset.checksum = result.checksum;
    out.dataset.serverChecksum = result.serverChecksum ?? "";
    setStatus(
      result.reused
        ? `${key} was in this cache already`
        : `pulled ${key}: ${result.filesReceived} files, ${result.bytesReceived} bytes received in ` +
            `${Math.round(performance.now() - started)} ms` +
            (result.checksum === result.serverChecksum ? "" : " (checksum differs from the server's: modes or owner)"),
    );
    await renderSources();
  }),
);

$("du").addEventListener("click", () =>
  run(async () => {
    $("du-result").textContent = `idle: ${formatBytes(await cache.diskUsage())}`;
  }),
);

$("prune").addEventListener("click", () =>
  run(async () => {
    $("du-result").textContent = `pruned: ${formatBytes(await cache.prune())}`;
    await renderSources();
  }),
);

run(async () => {
  await renderSources();
  setStatus("ready");
});
