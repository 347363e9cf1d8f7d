"""Write the API's OpenAPI document to services/dashboard/openapi.json (the dashboard's types are generated
from it with `npm run gen:types`). Run through `make openapi`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scheduler_api.app import create_app
from scheduler_core.settings import Settings

TARGET = Path(__file__).resolve().parents[1] / "services/dashboard/openapi.json"


def openapi_document() -> dict[str, object]:
    # The document does not depend on the secret or the database; placeholders keep this offline.
    app = create_app(Settings(jwt_secret="openapi-export"), instance_id="openapi-export")
    return app.openapi()


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else TARGET
    path.write_text(json.dumps(openapi_document(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
