#!/usr/bin/env python3
"""A WebSocket peer built on python3-websockets for decode's WebSocket tests.

client URL MESSAGES [window|nocontext|none]
    Connects with subprotocol "mqtt", sends each message of the JSON file
    MESSAGES ([{"type": "binary"|"text", "hex": "...", "parts": n}]; parts > 1
    sends a fragmented message), waits for each echo and checks it, pings
    with the payload "ping from python", then closes with 1000 and a reason.
    The third argument picks the permessage-deflate offer: window offers
    client_max_window_bits (websockets' default), nocontext also asks for no
    context takeover, none disables compression.
server window|nocontext
    Serves an echo on 127.0.0.1 (a free port, printed as "PORT n"), accepting
    permessage-deflate with server_max_window_bits=10 and
    client_max_window_bits=9 (window) or with no context takeover on both
    sides (nocontext).
Exits with status 1 and a message on stderr when anything differs.
"""
import asyncio
import json
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

CLOSE_REASON = "client done \u2713"


def client_extensions(mode):
    if mode == "none":
        return None  # [] would send an empty Sec-WebSocket-Extensions
    if mode == "nocontext":
        return [ClientPerMessageDeflateFactory(
            client_max_window_bits=True,
            server_no_context_takeover=True,
            client_no_context_takeover=True)]
    return [ClientPerMessageDeflateFactory(client_max_window_bits=True)]


async def run_client(url, path, mode):
    with open(path) as f:
        messages = json.load(f)
    async with websockets.connect(
            url, subprotocols=["mqtt"], max_size=None, compression=None,
            extensions=client_extensions(mode)) as ws:
        if ws.subprotocol != "mqtt":
            sys.exit(f"wspeer: subprotocol {ws.subprotocol!r}, want 'mqtt'")
        for i, m in enumerate(messages):
            data = bytes.fromhex(m["hex"])
            if m["type"] == "text":
                data = data.decode("utf-8")
            parts = m.get("parts", 1)
            if parts > 1:
                step = -(-len(data) // parts)
                await ws.send([data[j:j + step] for j in range(0, len(data), step)])
            else:
                await ws.send(data)
            echo = await ws.recv()
            if echo != data:
                sys.exit(f"wspeer: echo of message {i} differs")
        pong = await ws.ping(b"ping from python")
        await pong
        await ws.close(code=1000, reason=CLOSE_REASON)


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def run_server(mode):
    if mode == "nocontext":
        ext = ServerPerMessageDeflateFactory(
            server_no_context_takeover=True, client_no_context_takeover=True)
    else:
        ext = ServerPerMessageDeflateFactory(
            server_max_window_bits=10, client_max_window_bits=9,
            compress_settings={"memLevel": 4})
    async with websockets.serve(echo, "127.0.0.1", 0, subprotocols=["mqtt"],
                                max_size=None, compression=None,
                                extensions=[ext]) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await asyncio.Future()


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "client":
        asyncio.run(run_client(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif len(sys.argv) == 3 and sys.argv[1] == "server":
        asyncio.run(run_server(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
