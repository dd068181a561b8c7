"""An OpenAI-compatible HTTP server on libgpt2, standard library only:

    python3 -m gpt2.server -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key KEY]

POST /v1/completions (streaming with server-sent events), GET /v1/models,
GET /health. Concurrent requests share one model and are evaluated
together, one batch per step (continuous batching, gpt2/_engine.py).
docs/server.md has the fields, the errors and the measured figures."""
import argparse
import http.server
import json
import math
import os
import queue
import secrets
import select
import socket
import sys
import time

from ._engine import Engine, Request, Sequence
from ._sampling import sample_params
from .model import Model

MAX_STOPS = 4        # OpenAI's limit
MAX_N = 128          # OpenAI's limit on n
MAX_LOGPROBS = 5     # OpenAI's limit for completions
POLL_SECONDS = 0.25  # how often a waiting handler checks its client is still there


class ApiError(Exception):
    """An error answered with OpenAI's error object."""

    def __init__(self, status, message, param=None, kind="invalid_request_error", code=None):
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.code = (
            status, message, param, kind, code)

    def body(self):
        return {"error": {"message": self.message, "type": self.kind, "param": self.param,
                          "code": self.code}}


def _invalid(param, message):
    return ApiError(400, message, param)


def _number(body, name, default, low, high):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _invalid(name, "%s must be a number" % name)
    if not low <= value <= high:
        raise _invalid(name, "%s is %s; it must be in [%s, %s]" % (name, value, low, high))
    return value


def _integer(body, name, default, low, high):
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(name, "%s must be an integer" % name)
    if not low <= value <= high:
        raise _invalid(name, "%s is %d; it must be in [%d, %d]" % (name, value, low, high))
    return value


def _boolean(body, name):
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(name, "%s must be a boolean" % name)
    return value


def _prompts(body, model):
    """The prompts as token id lists: a string, a list of strings, a list
    of token ids or a list of such lists. Text is tokenized as text: a
    literal <|endoftext|> in it is not the special token (docs/python.md);
    send its id to get it. An empty prompt starts from <|endoftext|>."""
    prompt = body.get("prompt", "<|endoftext|>")
    if isinstance(prompt, str):
        items = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        items = prompt
    elif isinstance(prompt, list) and prompt and all(
            isinstance(t, int) and not isinstance(t, bool) for t in prompt):
        items = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, list) for p in prompt):
        items = prompt
    else:
        raise _invalid("prompt", "prompt must be a string, a list of strings, a list of token "
                                 "ids or a list of lists of token ids")
    result = []
    for item in items:
        if isinstance(item, str):
            # The default prompt is the document boundary itself.
            ids = [model.eot] if item == "<|endoftext|>" and "prompt" not in body else \
                model.tokenize(item)
        else:
            if not all(isinstance(t, int) and not isinstance(t, bool) and 0 <= t < model.n_vocab
                       for t in item):
                raise _invalid("prompt", "token ids must be integers in [0, %d)" % model.n_vocab)
            ids = list(item)
        result.append(ids or [model.eot])
    return result


def _logit_bias(body, model):
    bias = body.get("logit_bias")
    if bias is None:
        return None
    if not isinstance(bias, dict):
        raise _invalid("logit_bias", "logit_bias must be an object of token id -> bias")
    pairs = []
    for key, value in bias.items():
        try:
            token = int(key)
        except ValueError:
            raise _invalid("logit_bias", "logit_bias key %r is not a token id" % key) from None
        if not 0 <= token < model.n_vocab:
            raise _invalid("logit_bias", "logit_bias token %d is outside [0, %d)"
                           % (token, model.n_vocab))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not -100 <= value <= 100:
            raise _invalid("logit_bias", "logit_bias values must be numbers in [-100, 100]")
        # OpenAI: -100 bans a token, 100 makes it the only choice.
        pairs.append((token, -math.inf if value <= -100 else float(value)))
    return pairs


class Completion:
    """A validated POST /v1/completions request."""

    def __init__(self, body, model):
        if not isinstance(body, dict):
            raise _invalid(None, "the body must be a JSON object")
        self.prompts = _prompts(body, model)
        self.max_tokens = _integer(body, "max_tokens", 16, 0, model.n_ctx_train)
        self.n = _integer(body, "n", 1, 1, MAX_N)
        self.stream = _boolean(body, "stream")
        self.echo = _boolean(body, "echo")
        self.logprobs = _integer(body, "logprobs", None, 0, MAX_LOGPROBS)
        seed = _integer(body, "seed", None, -(1 << 63), (1 << 64) - 1)
        self.seed = secrets.randbits(64) if seed is None else seed % (1 << 64)
        stop = body.get("stop")
        if stop is None:
            stop = []
        elif isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or len(stop) > MAX_STOPS or \
                not all(isinstance(s, str) and s for s in stop):
            raise _invalid("stop", "stop must be a non-empty string or a list of up to %d"
                           % MAX_STOPS)
        self.stop = stop
        self.sampling = sample_params(
            temperature=_number(body, "temperature", 1.0, 0.0, 2.0),
            top_p=_number(body, "top_p", 1.0, 0.0, 1.0), top_k=0,
            presence_penalty=_number(body, "presence_penalty", 0.0, -2.0, 2.0),
            frequency_penalty=_number(body, "frequency_penalty", 0.0, -2.0, 2.0),
            logit_bias=_logit_bias(body, model))
        if body.get("user") is not None and not isinstance(body.get("user"), str):
            raise _invalid("user", "user must be a string")
        for ids in self.prompts:
            if len(ids) > model.n_ctx_train or \
                    (len(ids) == model.n_ctx_train and self.max_tokens > 0):
                raise _invalid("prompt", "This model's maximum context length is %d tokens; "
                               "the prompt has %d" % (model.n_ctx_train, len(ids)))

    def sequences(self, request, model):
        """n sequences per prompt (choice index = prompt * n + i; choice i
        samples with seed + i, as Model.generate(n=...) does)."""
        result = []
        for p, ids in enumerate(self.prompts):
            room = min(self.max_tokens, model.n_ctx_train - len(ids))
            parent = None
            for i in range(self.n):
                sequence = Sequence(request, p * self.n + i, ids, self.sampling,
                                    (self.seed + i) % (1 << 64), room, self.stop,
                                    self.logprobs, self.echo, parent)
                parent = parent or sequence
                result.append(sequence)
        return result


class LogprobsBuilder:
    """OpenAI's completions logprobs object for one choice."""

    def __init__(self, model, offset=0):
        self.model = model
        self.offset = offset
        self.tokens, self.token_logprobs, self.top_logprobs, self.text_offset = [], [], [], []

    def add(self, entries, text_length):
        for token, logprob, top in entries:
            piece = self.model.decode([token])
            self.tokens.append(piece)
            self.token_logprobs.append(logprob)
            self.top_logprobs.append(
                None if logprob is None else {self.model.decode([t]): lp for t, lp in top})
            self.text_offset.append(self.offset)
            self.offset += len(piece)
        self.offset = max(self.offset, text_length)

    def body(self):
        return {"tokens": self.tokens, "token_logprobs": self.token_logprobs,
                "top_logprobs": self.top_logprobs, "text_offset": self.text_offset}


def _client_gone(connection):
    """True once the client closed its side (readable with no data)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "libgpt2-server"

    # ---- plumbing ----------------------------------------------------
    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)

    def _send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, error):
        if not self._body_read:
            self.close_connection = True  # the unread body would be taken for a request
        self._send_json(error.status, error.body())

    def _authorize(self):
        key = self.server.api_key
        if key is None:
            return
        given = self.headers.get("Authorization", "")
        if not secrets.compare_digest(given.encode(), ("Bearer " + key).encode()):
            raise ApiError(401, "Incorrect API key provided", kind="invalid_request_error",
                           code="invalid_api_key")

    def _read_json(self):
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(411, "send the body with a Content-Length")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            raise _invalid(None, "bad Content-Length") from None
        if length > self.server.max_body:
            raise ApiError(413, "the body is %d bytes; the limit is %d"
                           % (length, self.server.max_body))
        data = self.rfile.read(length)
        self._body_read = True
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as error:
            raise _invalid(None, "the body is not valid JSON: %s" % error) from None

    def _dispatch(self, routes):
        self._body_read = self.command != "POST"
        self._streaming = False
        path = self.path.split("?", 1)[0]
        try:
            route = routes.get(path)
            if route is None:
                raise ApiError(404, "no route %s %s" % (self.command, path),
                               kind="invalid_request_error", code="not_found")
            if path != "/health":
                self._authorize()
            route()
        except ApiError as error:
            if self._streaming:  # the 200 is sent: end the stream with it
                self._chunk("data: %s\n\n" % json.dumps(error.body()))
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True
            else:
                self._send_error(error)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_GET(self):
        self._dispatch({"/health": self._health, "/v1/models": self._models})

    def do_POST(self):
        self._dispatch({"/v1/completions": self._completions})

    # ---- routes --------------------------------------------------------
    def _health(self):
        self._send_json(200, {"status": "ok", "sequences": self.server.engine.active()})

    def _models(self):
        self._send_json(200, {"object": "list", "data": [self.server.model_card()]})

    def _completions(self):
        body = self._read_json()
        model = self.server.model
        completion = Completion(body, model)
        request = Request()
        sequences = completion.sequences(request, model)
        self.server.engine.submit(sequences)
        meta = {"id": "cmpl-" + secrets.token_hex(12), "object": "text_completion",
                "created": int(time.time()), "model": self.server.model_name}
        prompt_tokens = sum(len(ids) for ids in completion.prompts)
        try:
            if completion.stream:
                self._stream(request, completion, meta, prompt_tokens, len(sequences))
            else:
                self._collect(request, completion, meta, prompt_tokens, len(sequences))
        finally:
            request.cancelled.set()  # a no-op once every sequence has ended

    def _events(self, request, count):
        """The engine's events for `count` sequences, until each has ended;
        stops (cancelling the request) if the client goes away."""
        ended = 0
        while ended < count:
            try:
                index, kind, value = request.events.get(timeout=POLL_SECONDS)
            except queue.Empty:
                if _client_gone(self.connection):
                    request.cancelled.set()
                    raise BrokenPipeError("client disconnected")
                continue
            if kind == "error":
                request.cancelled.set()
                raise ApiError(500, value, kind="server_error")
            ended += kind == "end"
            yield index, kind, value

    def _collect(self, request, completion, meta, prompt_tokens, count):
        texts = [[] for _ in range(count)]
        builders = [LogprobsBuilder(self.server.model) for _ in range(count)]
        reasons = [None] * count
        generated = 0
        for index, kind, value in self._events(request, count):
            if kind == "text":
                text, entries = value
                texts[index].append(text)
                builders[index].add(entries, sum(map(len, texts[index])))
            else:
                reasons[index], tokens = value
                generated += tokens
        choices = [{"text": "".join(texts[i]), "index": i,
                    "logprobs": builders[i].body() if completion.logprobs is not None else None,
                    "finish_reason": reasons[i]} for i in range(count)]
        self._send_json(200, dict(meta, choices=choices, usage={
            "prompt_tokens": prompt_tokens, "completion_tokens": generated,
            "total_tokens": prompt_tokens + generated}))

    def _stream(self, request, completion, meta, prompt_tokens, count):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._streaming = True
        offsets = [0] * count
        generated = 0
        for index, kind, value in self._events(request, count):
            if kind == "text":
                text, entries = value
                logprobs = None
                if completion.logprobs is not None:
                    builder = LogprobsBuilder(self.server.model, offsets[index])
                    builder.add(entries, offsets[index] + len(text))
                    logprobs = builder.body()
                offsets[index] += len(text)
                choice = {"text": text, "index": index, "logprobs": logprobs,
                          "finish_reason": None}
            else:
                reason, tokens = value
                generated += tokens
                choice = {"text": "", "index": index, "logprobs": None, "finish_reason": reason}
            self._chunk("data: %s\n\n" % json.dumps(dict(meta, choices=[choice])))
        self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets the 6th of many clients
    # that connect at once (32 concurrent streams did).
    request_queue_size = 256

    def __init__(self, model, address, api_key=None, max_body=1 << 20, n_threads=0,
                 max_sequences=64, verbose=False, model_name=None):
        self.model = model
        self.model_name = model_name or os.path.basename(os.path.normpath(model.path))
        self.api_key = api_key
        self.max_body = max_body
        self.verbose = verbose
        self.engine = Engine(model, n_threads=n_threads, max_sequences=max_sequences)
        self.created = int(time.time())
        super().__init__(address, Handler)

    def model_card(self):
        return {"id": self.model_name, "object": "model", "created": self.created,
                "owned_by": "libgpt2"}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m gpt2.server", description=__doc__.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-m", "--model", required=True, help="HF directory or .gguf file")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--api-key", default=os.environ.get("GPT2_API_KEY"),
                        help="require 'Authorization: Bearer KEY' (default $GPT2_API_KEY)")
    parser.add_argument("--n-threads", type=int, default=0, help="0 = every online CPU")
    parser.add_argument("--max-sequences", type=int, default=64,
                        help="sequences evaluated together at most; more wait (default 64)")
    parser.add_argument("--max-body", type=int, default=1 << 20,
                        help="largest request body in bytes (413 above; default 1 MiB)")
    parser.add_argument("--model-name", help="the id /v1/models reports (default: file name)")
    parser.add_argument("--weight-type", default="auto")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    model = Model(args.model, weight_type=args.weight_type)
    server = Server(model, (args.host, args.port), api_key=args.api_key,
                    max_body=args.max_body, n_threads=args.n_threads,
                    max_sequences=args.max_sequences, verbose=args.verbose,
                    model_name=args.model_name)
    host, port = server.server_address[:2]
    print("gpt2.server: %s on http://%s:%d/v1" % (server.model_name, host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
