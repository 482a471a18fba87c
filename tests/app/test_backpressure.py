"""A browser that falls behind Streamlit's message queue gets its websocket closed (so it reconnects), instead of a
session dropped in silence. Checked on Streamlit's own websocket client class, with a socket that never drains."""

from __future__ import annotations

import asyncio

import pytest
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime.session_manager import SessionClientDisconnectedError
from streamlit.web.server.starlette import starlette_websocket

from app import backpressure


class StuckSocket:
    """A websocket whose browser never reads: every send waits forever."""

    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    client = None

    def __init__(self) -> None:
        self.closed_with: list[int] = []

    async def send_bytes(self, payload: bytes) -> None:
        await asyncio.Event().wait()

    async def close(self, code: int = 1000) -> None:
        self.closed_with.append(code)


def _message() -> ForwardMsg:
    msg = ForwardMsg()
    msg.script_finished = ForwardMsg.FINISHED_SUCCESSFULLY
    return msg


async def _overflow(monkeypatch, queue_size: int) -> tuple[StuckSocket, int]:
    """Write to a client over a stuck socket until the queue overflows; returns the socket and how many writes
    were accepted."""
    monkeypatch.setattr(starlette_websocket, "WEBSOCKET_MAX_SEND_QUEUE_SIZE", queue_size)
    socket = StuckSocket()
    client = starlette_websocket.StarletteSessionClient(socket)
    accepted = 0
    with pytest.raises(SessionClientDisconnectedError):
        for _ in range(queue_size + 10):
            client.write_forward_msg(_message())
            accepted += 1
    await asyncio.sleep(0.05)  # the close is scheduled on the event loop
    client._sender_task.cancel()
    return socket, accepted


def test_an_overflowing_browser_is_told_to_reconnect(monkeypatch):
    assert backpressure.install()
    assert backpressure.install()  # idempotent: one wrapper, not two
    socket, accepted = asyncio.run(_overflow(monkeypatch, queue_size=5))
    # the sender task takes one message off the queue before it blocks: the sixth write still fits
    assert accepted in (5, 6)
    assert socket.closed_with == [backpressure.TRY_AGAIN_LATER]  # once, whatever the writes after the overflow


def test_without_the_patch_streamlit_drops_the_session_silently(monkeypatch):
    """The behaviour the patch mends (if Streamlit fixes it, this test says so and the patch can go)."""
    original = getattr(starlette_websocket.StarletteSessionClient.write_forward_msg, "__wrapped__", None)
    if original is not None:
        monkeypatch.setattr(starlette_websocket.StarletteSessionClient, "write_forward_msg", original)
    socket, _ = asyncio.run(_overflow(monkeypatch, queue_size=5))
    assert socket.closed_with == []
