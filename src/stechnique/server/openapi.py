"""The service's OpenAPI 3.1 document, without running it: ``python -m stechnique.server.openapi``
prints what ``/openapi.json`` serves (``docs/openapi.json`` is that, committed)."""

from __future__ import annotations

import json
from typing import Any

from stechnique.server.app import create_app

__all__ = ["document"]


def document() -> dict[str, Any]:
    """The OpenAPI document the service serves (no store is opened to build it)."""
    openapi: dict[str, Any] = create_app("sqlite://").openapi()
    return openapi


if __name__ == "__main__":
    print(json.dumps(document(), ensure_ascii=False, indent=2))
