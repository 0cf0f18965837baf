"""The model catalog: every model id, alias and retired-model replacement, in one table.

Workers AI retired most of the models older guides name (on 2025-10-01 and
2026-05-30); requests that still name them are redirected to a current model of
the same kind, and the answer says which model really ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CHAT = "chat"
EMBEDDINGS = "embeddings"
TEXT_TO_IMAGE = "text-to-image"
IMAGE_TO_IMAGE = "image-to-image"
SPEECH_TO_TEXT = "speech-to-text"
TEXT_TO_SPEECH = "text-to-speech"
TRANSLATION = "translation"

# Workers AI's own task names, shown in /v1/models so users can look models up in Cloudflare's docs.
WORKERS_AI_TASK = {
    CHAT: "Text Generation",
    EMBEDDINGS: "Text Embeddings",
    TEXT_TO_IMAGE: "Text-to-Image",
    IMAGE_TO_IMAGE: "Text-to-Image",
    SPEECH_TO_TEXT: "Automatic Speech Recognition",
    TEXT_TO_SPEECH: "Text-to-Speech",
    TRANSLATION: "Translation",
}


@dataclass(frozen=True)
class Model:
    id: str
    task: str
    # Capabilities beyond the task: "vision", "tools", "mask" (inpainting needs a mask).
    capabilities: frozenset[str] = frozenset()
    # Task-specific facts the converters need (embedding dimensions and batch size,
    # image output format and step limit, the audio input style of a whisper model).
    limits: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def owned_by(self) -> str:
        # "@cf/meta/llama-3.3-70b-instruct-fp8-fast" → "meta"
        parts = self.id.split("/")
        return parts[1] if len(parts) >= 3 else "cloudflare"


def _m(model_id: str, task: str, *capabilities: str, **limits) -> Model:
    return Model(model_id, task, frozenset(capabilities), limits)


MODELS: tuple[Model, ...] = (
    # Chat (text generation). The first one is the default chat model.
    _m("@cf/meta/llama-3.1-8b-instruct-fast", CHAT, "tools"),
    _m("@cf/meta/llama-3.3-70b-instruct-fp8-fast", CHAT, "tools"),
    _m("@cf/meta/llama-4-scout-17b-16e-instruct", CHAT, "tools", "vision"),
    _m("@cf/meta/llama-3.2-11b-vision-instruct", CHAT, "vision"),
    _m("@cf/meta/llama-3.2-3b-instruct", CHAT),
    _m("@cf/meta/llama-3.2-1b-instruct", CHAT),
    _m("@cf/openai/gpt-oss-120b", CHAT, "tools"),
    _m("@cf/openai/gpt-oss-20b", CHAT, "tools"),
    _m("@cf/zai-org/glm-4.7-flash", CHAT, "tools"),
    _m("@cf/google/gemma-4-26b-a4b-it", CHAT, "tools", "vision"),
    _m("@cf/google/gemma-3-12b-it", CHAT, "vision"),
    _m("@cf/qwen/qwen3-30b-a3b-fp8", CHAT, "tools"),
    _m("@cf/qwen/qwq-32b", CHAT),
    _m("@cf/qwen/qwen2.5-coder-32b-instruct", CHAT),
    _m("@cf/mistralai/mistral-small-3.1-24b-instruct", CHAT, "tools", "vision"),
    _m("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", CHAT),
    _m("@cf/ibm-granite/granite-4.0-h-micro", CHAT, "tools"),
    # Embeddings: dimensions and how many texts one call takes.
    _m("@cf/baai/bge-m3", EMBEDDINGS, dimensions=1024, max_batch=100),
    _m("@cf/baai/bge-small-en-v1.5", EMBEDDINGS, dimensions=384, max_batch=100),
    _m("@cf/baai/bge-base-en-v1.5", EMBEDDINGS, dimensions=768, max_batch=100),
    _m("@cf/baai/bge-large-en-v1.5", EMBEDDINGS, dimensions=1024, max_batch=100),
    _m("@cf/google/embeddinggemma-300m", EMBEDDINGS, dimensions=768, max_batch=100),
    _m("@cf/qwen/qwen3-embedding-0.6b", EMBEDDINGS, dimensions=1024, max_batch=100),
    # Images. `output`: "png-stream" / "jpeg-stream" (bytes as a stream) or "b64-jpeg" ({image: base64}).
    # `steps_param`: the input that takes the step count; `sized`: whether width/height are taken.
    _m("@cf/black-forest-labs/flux-1-schnell", TEXT_TO_IMAGE, output="b64-jpeg", max_steps=8, default_steps=4,
       steps_param="steps", sized=False),
    _m("@cf/leonardo/lucid-origin", TEXT_TO_IMAGE, output="b64-jpeg", max_steps=40, default_steps=20, steps_param="steps"),
    _m("@cf/leonardo/phoenix-1.0", TEXT_TO_IMAGE, output="jpeg-stream", max_steps=50, default_steps=25),
    _m("@cf/stabilityai/stable-diffusion-xl-base-1.0", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=20),
    _m("@cf/bytedance/stable-diffusion-xl-lightning", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=8),
    _m("@cf/lykon/dreamshaper-8-lcm", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=8),
    _m("@cf/runwayml/stable-diffusion-v1-5-img2img", IMAGE_TO_IMAGE, output="png-stream", max_steps=20, default_steps=20),
    _m("@cf/runwayml/stable-diffusion-v1-5-inpainting", IMAGE_TO_IMAGE, "mask", output="png-stream", max_steps=20, default_steps=20),
    # Speech to text. `audio`: how the model takes its input.
    _m("@cf/openai/whisper-large-v3-turbo", SPEECH_TO_TEXT, audio="base64"),
    _m("@cf/openai/whisper", SPEECH_TO_TEXT, audio="byte-array"),
    _m("@cf/openai/whisper-tiny-en", SPEECH_TO_TEXT, audio="byte-array"),
    # Text to speech.
    _m("@cf/myshell-ai/melotts", TEXT_TO_SPEECH, output="b64-mp3"),
    _m("@cf/deepgram/aura-1", TEXT_TO_SPEECH, output="mp3-stream"),
    # Translation.
    _m("@cf/meta/m2m100-1.2b", TRANSLATION, max_batch=100),
)

BY_ID: dict[str, Model] = {model.id: model for model in MODELS}

# The model a request gets when it names none, or names a retired model of that kind.
DEFAULT_MODEL = {
    CHAT: "@cf/meta/llama-3.1-8b-instruct-fast",
    EMBEDDINGS: "@cf/baai/bge-m3",
    TEXT_TO_IMAGE: "@cf/black-forest-labs/flux-1-schnell",
    SPEECH_TO_TEXT: "@cf/openai/whisper-large-v3-turbo",
    TEXT_TO_SPEECH: "@cf/myshell-ai/melotts",
    TRANSLATION: "@cf/meta/m2m100-1.2b",
}

# OpenAI names clients send by default. Overridable with the MODEL_ALIASES var.
DEFAULT_ALIASES: dict[str, str] = {
    "gpt-3.5-turbo": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4.1-mini": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4o": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "gpt-4": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "gpt-4.1": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "text-embedding-ada-002": "@cf/baai/bge-base-en-v1.5",
    "text-embedding-3-small": "@cf/baai/bge-base-en-v1.5",
    "text-embedding-3-large": "@cf/baai/bge-large-en-v1.5",
    "dall-e-2": "@cf/black-forest-labs/flux-1-schnell",
    "dall-e-3": "@cf/black-forest-labs/flux-1-schnell",
    "gpt-image-1": "@cf/black-forest-labs/flux-1-schnell",
    "whisper-1": "@cf/openai/whisper-large-v3-turbo",
    "tts-1": "@cf/myshell-ai/melotts",
    "tts-1-hd": "@cf/myshell-ai/melotts",
}

# Retired by Cloudflare (2025-10-01 and 2026-05-30) → what answers in their place.
_RETIRED_CHAT = (
    "@cf/meta/llama-2-7b-chat-fp16",
    "@cf/meta/llama-2-7b-chat-int8",
    "@cf/meta-llama/llama-2-7b-chat-hf-lora",
    "@cf/mistral/mistral-7b-instruct-v0.1",
    "@cf/mistral/mistral-7b-instruct-v0.2-lora",
    "@hf/mistral/mistral-7b-instruct-v0.2",
    "@cf/qwen/qwen1.5-0.5b-chat",
    "@cf/qwen/qwen1.5-1.8b-chat",
    "@cf/qwen/qwen1.5-7b-chat-awq",
    "@cf/qwen/qwen1.5-14b-chat-awq",
    "@cf/microsoft/phi-2",
    "@cf/tinyllama/tinyllama-1.1b-chat-v1.0",
    "@hf/google/gemma-7b-it",
    "@cf/google/gemma-2b-it-lora",
    "@cf/google/gemma-7b-it-lora",
    "@cf/openchat/openchat-3.5-0106",
    "@cf/defog/sqlcoder-7b-2",
    "@cf/deepseek-ai/deepseek-math-7b-instruct",
    "@cf/tiiuae/falcon-7b-instruct",
    "@cf/thebloke/discolm-german-7b-v1-awq",
    "@cf/nexusflow/starling-lm-7b-beta",
    "@hf/nexusflow/starling-lm-7b-beta",
    "@hf/nousresearch/hermes-2-pro-mistral-7b",
    "@cf/fblgit/una-cybertron-7b-v2-bf16",
    "@cf/meta/llama-3-8b-instruct",
    "@cf/meta/llama-3-8b-instruct-awq",
    "@hf/meta-llama/meta-llama-3-8b-instruct",
    "@cf/meta/llama-3.1-8b-instruct",
    "@cf/meta/llama-3.1-8b-instruct-awq",
    "@cf/meta/llama-3.1-8b-instruct-fp8",
    "@cf/meta/llama-3.1-70b-instruct",
    "@cf/meta/llama-guard-3-8b",
)
# Every model in this family was retired; any id under it is redirected.
RETIRED_FAMILIES: dict[str, str] = {"@hf/thebloke/": DEFAULT_MODEL[CHAT]}
RETIRED: dict[str, str] = {
    **{model_id: DEFAULT_MODEL[CHAT] for model_id in _RETIRED_CHAT},
    "@cf/meta/llama-3.3-70b-instruct": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "@cf/openai/whisper-sherpa": "@cf/openai/whisper-large-v3-turbo",
    "@cf/baai/bge-small-en-v1.5-lora": "@cf/baai/bge-small-en-v1.5",
}


def retired_replacement(model_id: str) -> str | None:
    if model_id in RETIRED:
        return RETIRED[model_id]
    for prefix, replacement in RETIRED_FAMILIES.items():
        if model_id.startswith(prefix):
            return replacement
    return None


@dataclass(frozen=True)
class Resolved:
    """Which model answers a request, and how the requested name led to it."""

    requested: str
    model: Model
    # "id", "alias", "retired" (redirected), "default" (none named), "passthrough"
    # (an @cf/@hf id this catalog does not list yet: Workers AI decides).
    via: str


def resolve(
    name, task: str, *, aliases: dict[str, str], redirect_retired: bool = True, also: tuple[str, ...] = ()
) -> Resolved:
    """The model for a request to an endpoint of `task` (or of the `also` tasks).

    Raises ApiError: 400 for a name of the wrong type or a model of another task,
    404 for an unknown or (with redirection off) retired model.
    """
    from .errors import ApiError, bad_request, not_found

    tasks = (task, *also)
    if name is None or name == "":
        model_id, via = DEFAULT_MODEL[task], "default"
        name = model_id
    elif not isinstance(name, str):
        raise bad_request("`model` must be a string.", param="model", code="invalid_model")
    elif name in aliases:
        model_id, via = aliases[name], "alias"
    else:
        model_id, via = name, "id"
        if model_id not in BY_ID and not model_id.startswith("@"):
            suffix_matches = [m.id for m in MODELS if m.id.endswith("/" + model_id)]
            if len(suffix_matches) == 1:
                model_id = suffix_matches[0]

    replacement = retired_replacement(model_id)
    if replacement is not None:
        if not redirect_retired:
            raise ApiError(
                404,
                f"The model '{model_id}' was retired by Workers AI; use '{replacement}' instead "
                "(or turn REDIRECT_RETIRED_MODELS on).",
                code="model_retired", param="model",
            )
        model_id, via = replacement, "retired"

    model = BY_ID.get(model_id)
    if model is None:
        if model_id.startswith(("@cf/", "@hf/")):
            return Resolved(name, Model(model_id, task), "passthrough")
        raise not_found(
            f"The model '{name}' does not exist. GET /v1/models lists the models this gateway serves.",
            code="model_not_found", param="model",
        )
    if model.task not in tasks:
        raise bad_request(
            f"'{model.id}' is a {model.task} model; it cannot serve this endpoint ({task}).",
            param="model", code="model_task_mismatch",
        )
    return Resolved(name, model, via)
