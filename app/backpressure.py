"""A browser that falls behind reconnects instead of freezing.

Streamlit 1.67 queues at most 500 messages per browser. When a browser reads them more slowly than the app writes
them (quick slider presses while Chromium is still drawing the charts of earlier runs: each run of the Spaces page is
about 70 messages), Streamlit drops that browser's session but leaves its websocket open. The page then keeps its
controls and silently stops running: the slider says 250 while the maps stay at 283, and nothing the user does
reaches the server any more.

:func:`install` makes an overflow close the websocket as well (code 1013, "try again later"). The browser then
reconnects to its session, as after a network hiccup, and runs the page with what its controls show.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

LOG = logging.getLogger("latent_space_explorer")
TRY_AGAIN_LATER = 1013  # RFC 6455 close code: the server is overloaded, reconnect later
_PATCHED = "_latent_closes_on_overflow"


def install() -> bool:
    """Patch Streamlit's websocket client once per process (idempotent). Returns False where the server has no such
    client (another Streamlit version): nothing is changed then."""
    try:
        from streamlit.runtime.session_manager import SessionClientDisconnectedError
        from streamlit.web.server.starlette.starlette_websocket import StarletteSessionClient
    except ImportError:
        return False
    if getattr(StarletteSessionClient, _PATCHED, False):
        return True
    original = StarletteSessionClient.write_forward_msg

    def write_forward_msg(self, msg) -> None:
        try:
            original(self, msg)
        except SessionClientDisconnectedError:
            _close_soon(self)
            raise

    write_forward_msg.__wrapped__ = original
    StarletteSessionClient.write_forward_msg = write_forward_msg
    setattr(StarletteSessionClient, _PATCHED, True)
    return True


def _close_soon(client) -> None:
    """Close the client's websocket once (on the server's event loop, which is the thread that writes)."""
    if getattr(client, "_latent_closing", False):
        return
    client._latent_closing = True
    websocket = getattr(client, "_websocket", None)
    if websocket is None:
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # not on the event loop: Streamlit only writes from it, so there is nothing to schedule on
    LOG.warning("A browser fell behind by more than Streamlit's message queue; closing its connection so that it "
                "reconnects and runs the page again with its current controls.")
    task = loop.create_task(_close(websocket))
    client._latent_close_task = task  # keep a reference until it is done


async def _close(websocket) -> None:
    with contextlib.suppress(Exception):  # the browser may have gone already
        await websocket.close(code=TRY_AGAIN_LATER)
