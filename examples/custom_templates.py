"""Override a prompt template by directory, and see the change in every example's provenance.

    python examples/custom_templates.py [TEMPLATE_DIR]

TEMPLATE_DIR defaults to examples/custom_templates, which holds a `rephrase.jinja` that
replaces the packaged one (same name, same variables, same JSON answer). A file there wins
over the packaged template of the same name; names without a file fall back to the package.
On the command line the same is `augment-ft run ... --template-dir DIR`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from augment_ft import ChatRequest, Document, ScriptedBackend, augment
from augment_ft.strategies.sentence import asked_units

DOC = Document(
    id="notes", text="Tessicks are larger than grusks. Teodor Varn is the son of Ilsa Varn."
)
ANSWERS = {
    "Tessicks are larger than grusks.": [
        "Grusks are outsized by tessicks.",
        "A tessick is bigger than a grusk.",
    ],
    "Teodor Varn is the son of Ilsa Varn.": [
        "Ilsa Varn has a son, Teodor Varn.",
        "Teodor Varn's mother is Ilsa Varn.",
    ],
}


def fake_model(request: ChatRequest) -> str:
    """Two rewrites per numbered sentence, whatever the prompt around them says."""
    sentences = asked_units(request.messages)
    return json.dumps({"rephrasings": [ANSWERS.get(s, [s]) for s in sentences]})


def rephrase(template_dir: str | None) -> tuple[str, str]:
    """Run rephrase once; the template hash its examples carry and the system prompt sent."""
    backend = ScriptedBackend(fake_model)
    result = augment(
        [DOC],
        strategies=["rephrase"],
        backend=backend,
        keep_originals=False,
        template_dir=template_dir,
    )
    hashes = {e.provenance.template_hash for e in result.examples}
    if len(hashes) != 1:
        raise SystemExit(f"expected one template hash, got {hashes}")
    return hashes.pop() or "", backend.requests[0].messages[0].content


def main(argv: list[str]) -> int:
    template_dir = Path(argv[0] if argv else Path(__file__).parent / "custom_templates")
    packaged_hash, packaged_system = rephrase(None)
    custom_hash, custom_system = rephrase(str(template_dir))
    file_hash = hashlib.sha256((template_dir / "rephrase.jinja").read_bytes()).hexdigest()[:16]
    print(f"packaged template: hash {packaged_hash}")
    print(f"  system prompt: {packaged_system[:90]}...")
    print(f"custom template:  hash {custom_hash} (sha256 of the file: {file_hash})")
    print(f"  system prompt: {custom_system[:90]}...")
    print("the hash changed:", packaged_hash != custom_hash)
    return 0 if packaged_hash != custom_hash == file_hash else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
