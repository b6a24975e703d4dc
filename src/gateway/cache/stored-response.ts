/**
 * The `Response` an answer from the upstream cache's held bytes is: what `ctx.fetch` returns for a
 * hit, a stale copy, a revalidated copy and a miss it stored.
 *
 * `new Response(bytes)` sets up a byte stream (its controller, queue and transfer hooks) for every
 * answer, only for `text()` to read it back; on a warm-cache weather call that was the largest
 * share of `ctx.fetch`. This one holds the bytes and reads them directly in `text()`, `json()`,
 * `arrayBuffer()` and `bytes()`, and makes the stream only when `body` is asked for. It is still a
 * `Response` in every way a module can tell: `body` is a byte stream of the bytes, `bodyUsed`
 * becomes true once the body is read or the stream is read or cancelled, a second read (or a read
 * of a locked body) rejects with the same `TypeError` as a `Response`'s, `clone()` of a used body
 * throws as one does, and the headers say `content-length` (the held bytes' length). Every reader
 * gets its own copy of the bytes, so no caller can alter the stored copy.
 */

/** A `Response` whose body is `bytes` (kept as they are: the caller must not change them), or none (`null`). */
export class StoredResponse extends Response {
  readonly #bytes: Uint8Array<ArrayBuffer> | null;
  #stream: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #disturbed = false;

  /** `init.headers` should include `content-length` when there are bytes; {@link storedHeaders} adds it. */
  constructor(bytes: Uint8Array<ArrayBuffer> | null, init: ResponseInit) {
    super(null, init);
    this.#bytes = bytes;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#bytes === null) return null;
    if (this.#stream === undefined) {
      this.#stream = this.#open(this.#bytes);
      // Read already (text(), json() …): as a Response's, the stream is locked and has nothing left.
      if (this.#disturbed) void this.#stream.getReader().cancel();
    }
    return this.#stream;
  }

  override get bodyUsed(): boolean {
    return this.#disturbed;
  }

  override async text(): Promise<string> {
    return DECODER.decode(await this.#consume());
  }

  override async json(): Promise<unknown> {
    return JSON.parse(DECODER.decode(await this.#consume()));
  }

  override async arrayBuffer(): Promise<ArrayBuffer> {
    return (await this.#consume()).slice().buffer;
  }

  override async bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return (await this.#consume()).slice();
  }

  // What a Response does with the content type (MIME parsing, multipart): left to one.
  override async blob(): Promise<Blob> {
    return new Response((await this.#consume()).slice(), { headers: this.headers }).blob();
  }

  override async formData(): Promise<FormData> {
    return new Response((await this.#consume()).slice(), { headers: this.headers }).formData();
  }

  override clone(): StoredResponse {
    if (this.#unusable()) throw new TypeError('Response.clone: Body has already been consumed.');
    return new StoredResponse(this.#bytes, { status: this.status, statusText: this.statusText, headers: new Headers(this.headers) });
  }

  /** A body that cannot be read: read already, or its stream is locked to a reader or was read from. */
  #unusable(): boolean {
    return this.#bytes !== null && (this.#disturbed || this.#stream?.locked === true);
  }

  /** The held bytes, once (not a copy: the callers above copy what they hand out). */
  async #consume(): Promise<Uint8Array<ArrayBuffer>> {
    if (this.#unusable()) throw new TypeError('Body is unusable: Body has already been read');
    if (this.#bytes === null) return EMPTY;
    this.#disturbed = true;
    // A stream handed out earlier but never read must show it was consumed too (locked, closed).
    if (this.#stream) void this.#stream.getReader().cancel();
    return this.#bytes;
  }

  /** A byte stream of a copy of `bytes`, made on the first read; reading or cancelling it uses the body. */
  #open(bytes: Uint8Array<ArrayBuffer>): ReadableStream<Uint8Array<ArrayBuffer>> {
    return new ReadableStream({
      type: 'bytes',
      // Nothing is pulled until someone reads: until then the body is unused.
      pull: (controller) => {
        this.#disturbed = true;
        if (bytes.byteLength > 0) controller.enqueue(bytes.slice());
        controller.close();
      },
      cancel: () => {
        this.#disturbed = true;
      },
    });
  }
}

/**
 * Response headers for held bytes: `pairs` (lower-case names, without `content-length`) with
 * `extra` set over them and the bytes' `content-length`; none for a body-less status.
 */
export function storedHeaders(
  pairs: ReadonlyArray<readonly [string, string]>,
  extra: Readonly<Record<string, string>>,
  bytes: Uint8Array | null,
): Array<[string, string]> {
  const list: Array<[string, string]> = [];
  for (const [name, value] of pairs) if (!Object.hasOwn(extra, name) && name !== 'content-length') list.push([name, value]);
  for (const name of Object.keys(extra)) list.push([name, extra[name]!]);
  if (bytes !== null) list.push(['content-length', String(bytes.byteLength)]);
  return list;
}

const DECODER = new TextDecoder();
const EMPTY = new Uint8Array(0);
