"""Export the JSON Schema of every contract into schemas/json/ (`python -m schemas.export`).

The AsyncAPI documents beside them (schemas/json/asyncapi/) describe the service apps, so they
are exported by `python -m lab.asyncapi`: the contracts never depend on a service.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.topics import CONTRACTS

OUT_DIR = Path(__file__).parent / "json"


def rendered() -> dict[str, str]:
    """File name → JSON Schema text for every topic's contract."""
    files = {}
    for topic, model in CONTRACTS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:quartermaster:schema:{topic.value}"
        schema["x-topic"] = topic.value
        files[f"{topic.value}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def drift(files: dict[str, str]) -> list[str]:
    """Names (under schemas/json/) whose exported text differs from `files`."""
    return [
        name
        for name, text in files.items()
        if not (OUT_DIR / name).exists() or (OUT_DIR / name).read_text() != text
    ]


def write_or_check(files: dict[str, str], argv: list[str], what: str) -> int:
    """Write the files under schemas/json/, or with --check report drift and exit 1."""
    if "--check" in argv:
        stale = drift(files)
        for name in stale:
            print(f"schemas/json/{name} is out of date; run `make schemas`", file=sys.stderr)
        return 1 if stale else 0
    for name, text in files.items():
        (OUT_DIR / name).parent.mkdir(parents=True, exist_ok=True)
        (OUT_DIR / name).write_text(text)
    print(f"wrote {len(files)} {what} to {OUT_DIR}")
    return 0


def main(argv: list[str]) -> int:
    """Write the JSON Schemas, or with --check report drift and exit 1."""
    return write_or_check(rendered(), argv, "schemas")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
