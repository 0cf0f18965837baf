"""The model catalog: every model id, alias and retired-model replacement, in one table.

Workers AI retired most of the models older guides name (on 2025-10-01 and
2026-05-30); requests that still name them are redirected to a current model of
the same kind, and the answer says which model really ran.

Sources (checked 2026-11-25): the model pages in `cloudflare/cloudflare-docs`,
`src/content/workers-ai-models/<model>.json` (task, properties such as
`require_workers_paid`, `function_calling`, `vision`; the commit of each page read
is named beside its model), the deprecation notices in
`src/content/release-notes/workers-ai.yaml` (commit 0309c8bed23a) and
`src/content/changelog/workers-ai/2026-05-08-planned-model-deprecations.mdx`
(commit 8440dd31962b), and the `AiModels` map of `@cloudflare/workers-types`
5.20261117.1 (`tests/unit/test_catalog_freshness.py` keeps them in step).
At run time the live list from the AI binding's `models()` comes first
(`live_catalog.py`); this table is its fallback and the source of the facts the
live list does not carry (embedding sizes, image formats, input styles).
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
# Safety classification (llama-guard): Workers AI files it under Text Generation.
MODERATION = "moderation"
# Clef's decisions (typed questions about a `state`, answered with probabilities): Workers AI
# files them under Text Generation too, but they take no `messages`. Served at /ai/run/<model>.
DECISION = "decision"
# Speech recognition over a WebSocket only (Deepgram's flux): listed, not served.
STREAMING_SPEECH_TO_TEXT = "streaming-speech-to-text"

# Workers AI's own task names, shown in /v1/models so users can look models up in Cloudflare's docs.
WORKERS_AI_TASK = {
    CHAT: "Text Generation",
    EMBEDDINGS: "Text Embeddings",
    TEXT_TO_IMAGE: "Text-to-Image",
    IMAGE_TO_IMAGE: "Text-to-Image",
    SPEECH_TO_TEXT: "Automatic Speech Recognition",
    TEXT_TO_SPEECH: "Text-to-Speech",
    TRANSLATION: "Translation",
    MODERATION: "Text Generation",
    DECISION: "Text Generation",
    STREAMING_SPEECH_TO_TEXT: "Automatic Speech Recognition",
}

# Workers AI task names (as the live list reports them) → the gateway's task. Tasks not
# listed here (classification, detection, summarization...) are not served.
TASK_OF_WORKERS_AI: dict[str, str] = {
    "Text Generation": CHAT,
    "Text Embeddings": EMBEDDINGS,
    "Text-to-Image": TEXT_TO_IMAGE,
    "Automatic Speech Recognition": SPEECH_TO_TEXT,
    "Text-to-Speech": TEXT_TO_SPEECH,
    "Translation": TRANSLATION,
}


@dataclass(frozen=True)
class Model:
    id: str
    task: str
    # Capabilities beyond the task: "vision", "tools", "reasoning", "lora" (takes LoRA
    # adapters), "mask" (inpainting needs a mask).
    capabilities: frozenset[str] = frozenset()
    # Task-specific facts the converters need (embedding dimensions and batch size,
    # image output format and step limit, the audio input style of a whisper model).
    limits: dict = field(default_factory=dict, hash=False, compare=False)
    # The model page's `require_workers_paid`: on the Free plan Workers AI answers 403 (5035).
    paid: bool = False

    @property
    def owned_by(self) -> str:
        # "@cf/meta/llama-3.3-70b-instruct-fp8-fast" → "meta"
        parts = self.id.split("/")
        return parts[1] if len(parts) >= 3 else "cloudflare"


def _m(model_id: str, task: str, *capabilities: str, paid: bool = False, **limits) -> Model:
    return Model(model_id, task, frozenset(capabilities), limits, paid)


MODELS: tuple[Model, ...] = (
    # Chat (text generation). The first one is the default chat model.
    # `stream="openai"`: the model streams OpenAI `chat.completion.chunk` events (`data: <json>`,
    # `model` = its id here, usage on the last chunk) that can reach clients untouched
    # (chat_stream.passthrough_safe); the others stream `{"response": ...}` and are re-framed.
    _m("@cf/meta/llama-3.1-8b-instruct-fast", CHAT, "tools"),
    _m("@cf/meta/llama-3.3-70b-instruct-fp8-fast", CHAT, "tools"),
    _m("@cf/meta/llama-3.1-8b-instruct-fp8", CHAT, "tools"),  # no retirement notice (page 0f6b7e628f05)
    _m("@cf/meta/llama-4-scout-17b-16e-instruct", CHAT, "tools", "vision"),
    _m("@cf/meta/llama-3.2-11b-vision-instruct", CHAT, "vision"),
    _m("@cf/meta/llama-3.2-3b-instruct", CHAT),
    _m("@cf/meta/llama-3.2-1b-instruct", CHAT),
    _m("@cf/openai/gpt-oss-120b", CHAT, "tools", "reasoning", stream="openai"),
    _m("@cf/openai/gpt-oss-20b", CHAT, "tools", "reasoning", stream="openai"),
    _m("@cf/zai-org/glm-4.7-flash", CHAT, "tools", stream="openai"),
    _m("@cf/zai-org/glm-5.2", CHAT, "tools", "reasoning", paid=True),  # page 05b5f46cc674
    _m("@cf/zai-org/glm-5.3", CHAT, "tools", "reasoning", paid=True),  # page 14f349e28b55
    _m("@cf/zai-org/glm-5.3-flash", CHAT, "tools", "vision", "reasoning", paid=True),  # page 192d4051ba2e
    _m("@cf/moonshotai/kimi-k2.6", CHAT, "tools", "vision", "reasoning", paid=True),  # page 05b5f46cc674
    _m("@cf/moonshotai/kimi-k2.7-code", CHAT, "tools", "vision", "reasoning", paid=True),  # 2026-07-28 notice
    _m("@cf/deepseek-ai/deepseek-v4-flash-0731", CHAT, "tools", "reasoning", paid=True),  # 2026-08-14 changelog
    _m("@cf/deepseek-ai/deepseek-v4-pro-0813", CHAT, "tools", "reasoning", paid=True),  # 2026-08-14 changelog
    _m("@cf/qwen/qwen3.8-27b", CHAT, "tools", "vision", "reasoning"),  # page 05b5f46cc674
    _m("@cf/nvidia/nemotron-3-120b-a12b", CHAT, "tools", "reasoning"),  # 2026-03-11 changelog; free per 2026-07-28
    _m("@cf/aisingapore/gemma-sea-lion-v4-27b-it", CHAT),  # Southeast Asian languages (2025-09-24 notes)
    _m("@cf/google/gemma-4-26b-a4b-it", CHAT, "tools", "vision", stream="openai"),
    _m("@cf/qwen/qwen3-30b-a3b-fp8", CHAT, "tools"),  # streams text_completion chunks too: re-framed
    _m("@cf/qwen/qwq-32b", CHAT),
    _m("@cf/qwen/qwen2.5-coder-32b-instruct", CHAT),
    _m("@cf/mistralai/mistral-small-3.1-24b-instruct", CHAT, "tools", "vision"),
    _m("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", CHAT),
    _m("@cf/ibm-granite/granite-4.0-h-micro", CHAT, "tools"),
    # European languages; their pages (e0daf8d943427, 448f84563481) publish no schema, so the gateway
    # knows no contract for them and sends plain chat inputs. apertus needs access approval.
    _m("@cf/utter-project/eurollm-9b-it", CHAT, "tools"),
    _m("@cf/swiss-ai/apertus-v1.5-8b", CHAT, "tools", "vision"),
    # The -lora variants "remain active" (2026-05-08 notice): base models that take a `lora` adapter.
    _m("@cf/google/gemma-2b-it-lora", CHAT, "lora"),
    _m("@cf/google/gemma-7b-it-lora", CHAT, "lora"),
    _m("@cf/mistral/mistral-7b-instruct-v0.2-lora", CHAT, "lora"),
    _m("@cf/meta-llama/llama-2-7b-chat-hf-lora", CHAT, "lora"),
    # Safety classifier: answers "safe" / "unsafe\nS1,S2" (page 6996487559856); served by /v1/moderations.
    _m("@cf/meta/llama-guard-3-8b", MODERATION),
    # Embeddings: dimensions and how many texts one call takes.
    _m("@cf/baai/bge-m3", EMBEDDINGS, dimensions=1024, max_batch=100),
    _m("@cf/baai/bge-small-en-v1.5", EMBEDDINGS, dimensions=384, max_batch=100),
    _m("@cf/baai/bge-base-en-v1.5", EMBEDDINGS, dimensions=768, max_batch=100),
    _m("@cf/baai/bge-large-en-v1.5", EMBEDDINGS, dimensions=1024, max_batch=100),
    _m("@cf/google/embeddinggemma-300m", EMBEDDINGS, dimensions=768, max_batch=100),
    _m("@cf/qwen/qwen3-embedding-0.6b", EMBEDDINGS, dimensions=1024, max_batch=100),
    _m("@cf/pfnet/plamo-embedding-1b", EMBEDDINGS, dimensions=2048, max_batch=100),  # Japanese; page 05b5f46cc674
    _m("@cf/baai/omni-bge-base-en-v1.5", EMBEDDINGS, dimensions=768, max_batch=100),  # page bc81a021; bge-base's schema
    # Images. `output`: "png-stream" / "jpeg-stream" (bytes as a stream) or "b64-jpeg" ({image: base64}).
    # `steps_param`: the input that takes the step count; `sized`: whether width/height are taken.
    # `input`: "multipart" for FLUX.2 (prompt and options as form fields, pages 396d5241ece0 / 17331b86400e).
    _m("@cf/black-forest-labs/flux-1-schnell", TEXT_TO_IMAGE, output="b64-jpeg", max_steps=8, default_steps=4,
       steps_param="steps", sized=False),
    _m("@cf/black-forest-labs/flux-2-dev", TEXT_TO_IMAGE, input="multipart", output="b64-jpeg", max_steps=50,
       default_steps=20, steps_param="steps", max_side=1920, form_fields=("prompt", "steps", "guidance", "width", "height", "seed")),
    # klein is distilled: its step count is fixed at 4 and not sent.
    _m("@cf/black-forest-labs/flux-2-klein-4b", TEXT_TO_IMAGE, input="multipart", output="b64-jpeg", max_steps=4,
       default_steps=4, steps_param=None, max_side=1920, form_fields=("prompt", "guidance", "width", "height", "seed")),
    _m("@cf/black-forest-labs/flux-2-klein-9b", TEXT_TO_IMAGE, input="multipart", output="b64-jpeg", max_steps=4,
       default_steps=4, steps_param=None, max_side=1920, form_fields=("prompt", "guidance", "width", "height", "seed")),
    _m("@cf/leonardo/lucid-origin", TEXT_TO_IMAGE, output="b64-jpeg", max_steps=40, default_steps=20, steps_param="steps"),
    _m("@cf/leonardo/phoenix-1.0", TEXT_TO_IMAGE, output="jpeg-stream", max_steps=50, default_steps=25),
    _m("@cf/stabilityai/stable-diffusion-xl-base-1.0", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=20),
    _m("@cf/bytedance/stable-diffusion-xl-lightning", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=8),
    _m("@cf/lykon/dreamshaper-8-lcm", TEXT_TO_IMAGE, output="png-stream", max_steps=20, default_steps=8),
    _m("@cf/runwayml/stable-diffusion-v1-5-img2img", IMAGE_TO_IMAGE, output="png-stream", max_steps=20, default_steps=20),
    _m("@cf/runwayml/stable-diffusion-v1-5-inpainting", IMAGE_TO_IMAGE, "mask", output="png-stream", max_steps=20, default_steps=20),
    # Speech to text. `audio`: how the model takes its input ("stream": `{body, contentType}`, nova-3).
    _m("@cf/openai/whisper-large-v3-turbo", SPEECH_TO_TEXT, audio="base64"),
    _m("@cf/openai/whisper", SPEECH_TO_TEXT, audio="byte-array"),
    _m("@cf/openai/whisper-tiny-en", SPEECH_TO_TEXT, audio="byte-array"),
    _m("@cf/deepgram/nova-3", SPEECH_TO_TEXT, audio="stream"),  # page 03a4107753df
    # Text to speech.
    _m("@cf/myshell-ai/melotts", TEXT_TO_SPEECH, output="b64-mp3"),
    _m("@cf/deepgram/aura-1", TEXT_TO_SPEECH, output="mp3-stream"),
    _m("@cf/deepgram/aura-2-en", TEXT_TO_SPEECH, output="mp3-stream"),  # page 14f349e28b55
    _m("@cf/deepgram/aura-2-es", TEXT_TO_SPEECH, output="mp3-stream"),  # page 2725cf8ac7b9
    # Translation. indictrans2 translates English into the Indic languages of languages.INDICTRANS2.
    _m("@cf/meta/m2m100-1.2b", TRANSLATION, max_batch=100),
    _m("@cf/ai4bharat/indictrans2-en-indic-1B", TRANSLATION, source="en"),  # page 05b5f46cc674
    # Decisions (pages 0ae61c0b7257, db7f9affd470; 2026-10-01 changelog): `model` selects the variant.
    _m("@cf/cloudflare/clef", DECISION, "vision"),
    _m("@cf/cloudflare/clef-flash", DECISION, "vision"),
    _m("@cf/cloudflare/clef-omni", DECISION, "vision", "audio"),
    # WebSocket only (page 6dac5687dcac; 2025-10-02 changelog): no request/response endpoint can serve it.
    _m("@cf/deepgram/flux", STREAMING_SPEECH_TO_TEXT),
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
    MODERATION: "@cf/meta/llama-guard-3-8b",
}

# OpenAI names clients send by default, each to the nearest current model of the same kind.
# Overridable with the MODEL_ALIASES var. A dated or suffixed name (gpt-4o-2024-08-06,
# o3-mini-2025-01-31, gpt-5.1) resolves by its longest family prefix here (`family_alias`).
DEFAULT_ALIASES: dict[str, str] = {
    "gpt-3.5-turbo": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4o-mini": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4.1-mini": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4.1-nano": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-5-nano": "@cf/meta/llama-3.1-8b-instruct-fast",
    "gpt-4o": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "chatgpt-4o-latest": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "gpt-4": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "gpt-4-turbo": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "gpt-4.1": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    # OpenAI's GPT-5 and reasoning models → OpenAI's own open-weight reasoning models.
    "gpt-5": "@cf/openai/gpt-oss-120b",
    "o1": "@cf/openai/gpt-oss-120b",
    "o3": "@cf/openai/gpt-oss-120b",
    "gpt-5-mini": "@cf/openai/gpt-oss-20b",
    "o1-mini": "@cf/openai/gpt-oss-20b",
    "o3-mini": "@cf/openai/gpt-oss-20b",
    "o4-mini": "@cf/openai/gpt-oss-20b",
    "text-embedding-ada-002": "@cf/baai/bge-base-en-v1.5",
    "text-embedding-3-small": "@cf/baai/bge-base-en-v1.5",
    "text-embedding-3-large": "@cf/baai/bge-large-en-v1.5",
    "dall-e-2": "@cf/black-forest-labs/flux-1-schnell",
    "dall-e-3": "@cf/black-forest-labs/flux-1-schnell",
    "gpt-image-1": "@cf/black-forest-labs/flux-1-schnell",
    "whisper-1": "@cf/openai/whisper-large-v3-turbo",
    "gpt-4o-mini-transcribe": "@cf/openai/whisper-large-v3-turbo",
    "gpt-4o-transcribe": "@cf/deepgram/nova-3",
    "tts-1": "@cf/myshell-ai/melotts",
    "tts-1-hd": "@cf/myshell-ai/melotts",
    "gpt-4o-mini-tts": "@cf/deepgram/aura-2-en",
    "omni-moderation-latest": "@cf/meta/llama-guard-3-8b",
    "text-moderation-latest": "@cf/meta/llama-guard-3-8b",
    "text-moderation-stable": "@cf/meta/llama-guard-3-8b",
}


def family_alias(name: str, aliases: dict[str, str]) -> str | None:
    """The alias whose name is the longest prefix of `name` at a `-` or `.` boundary
    (`X-latest` counts as the family `X`): gpt-4o-2024-08-06 → gpt-4o, gpt-5.1 → gpt-5."""
    best = None
    for key in aliases:
        stem = key[: -len("-latest")] if key.endswith("-latest") else key
        if len(name) > len(stem) and name.startswith(stem) and name[len(stem)] in "-." and (
            best is None or len(stem) > len(best[1])
        ):
            best = (key, stem)
    return best[0] if best else None


def in_family(name, families: tuple[str, ...]) -> bool:
    """Whether the requested `name` is one of `families` or a variant of one (the family followed by
    `-` or `.`: gpt-image-1-mini, gpt-image-1.5, tts-1-hd, dated snapshots)."""
    return isinstance(name, str) and any(
        name == family or (name.startswith(family) and name[len(family)] in "-.") for family in families)


# Retired by Cloudflare → what answers in their place. Only ids with a notice: the
# 2025-10-01 list (release notes of 2025-09-18), the 2026-05-30 list (notice of
# 2026-05-08; the -fast and -lora variants "remain active"), and the 2024-06-30 one.
_RETIRED_2025_10_01 = (
    "@hf/thebloke/zephyr-7b-beta-awq",
    "@hf/thebloke/mistral-7b-instruct-v0.1-awq",
    "@hf/thebloke/llama-2-13b-chat-awq",
    "@hf/thebloke/openhermes-2.5-mistral-7b-awq",
    "@hf/thebloke/neural-chat-7b-v3-1-awq",
    "@hf/thebloke/llamaguard-7b-awq",
    "@hf/thebloke/deepseek-coder-6.7b-base-awq",
    "@hf/thebloke/deepseek-coder-6.7b-instruct-awq",
    "@cf/deepseek-ai/deepseek-math-7b-instruct",
    "@cf/openchat/openchat-3.5-0106",
    "@cf/tiiuae/falcon-7b-instruct",
    "@cf/thebloke/discolm-german-7b-v1-awq",
    "@cf/qwen/qwen1.5-0.5b-chat",
    "@cf/qwen/qwen1.5-7b-chat-awq",
    "@cf/qwen/qwen1.5-14b-chat-awq",
    "@cf/tinyllama/tinyllama-1.1b-chat-v1.0",
    "@cf/qwen/qwen1.5-1.8b-chat",
    "@hf/nexusflow/starling-lm-7b-beta",
    "@cf/fblgit/una-cybertron-7b-v2-bf16",
)
_RETIRED_2026_05_30 = (
    "@hf/meta-llama/meta-llama-3-8b-instruct",
    "@cf/meta/llama-3-8b-instruct",
    "@cf/meta/llama-3-8b-instruct-awq",
    "@cf/meta/llama-3.1-8b-instruct",
    "@cf/meta/llama-3.1-8b-instruct-awq",
    "@cf/meta/llama-3.1-70b-instruct",
    "@cf/meta/llama-2-7b-chat-int8",
    "@cf/meta/llama-2-7b-chat-fp16",
    "@cf/mistral/mistral-7b-instruct-v0.1",
    "@hf/mistral/mistral-7b-instruct-v0.2",
    "@hf/google/gemma-7b-it",
    "@hf/nousresearch/hermes-2-pro-mistral-7b",
    "@cf/microsoft/phi-2",
    "@cf/defog/sqlcoder-7b-2",
)
# Every model in this family was retired; any id under it is redirected.
RETIRED_FAMILIES: dict[str, str] = {"@hf/thebloke/": DEFAULT_MODEL[CHAT]}
RETIRED: dict[str, str] = {
    **{model_id: DEFAULT_MODEL[CHAT] for model_id in _RETIRED_2025_10_01 + _RETIRED_2026_05_30},
    # Named replacements: Cloudflare's own alias for kimi-k2.5, the recommended one for gemma-3.
    "@cf/moonshotai/kimi-k2.5": "@cf/moonshotai/kimi-k2.6",
    "@cf/google/gemma-3-12b-it": "@cf/google/gemma-4-26b-a4b-it",
    "@cf/meta/llama-3.1-70b-instruct": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    # Not in the gateway's tasks any more: ask a chat model (uform: image-to-text, bart: summaries).
    "@cf/unum/uform-gen2-qwen-500m": "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/facebook/bart-large-cnn": DEFAULT_MODEL[CHAT],
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
    # "id", "alias", "family" (an OpenAI name resolved by its family prefix), "retired"
    # (redirected), "default" (none named), "live" (not in this table, but in the binding's
    # live model list, served by its task), "passthrough" (an @cf/@hf id neither knows:
    # Workers AI decides).
    via: str


# Models the live list files under a task whose published schema is not that task's, by the id's
# last segment, for ids this table does not list yet: the Clef decision models (listed as Text
# Generation; their input is `model`, `state`, `questions`, never `messages`) and Deepgram's flux
# (listed as speech recognition, but WebSocket only). Never offered as chat or transcription models.
OWN_TASK_BY_NAME: dict[str, str] = {
    "clef": DECISION, "clef-flash": DECISION, "clef-omni": DECISION, "flux": STREAMING_SPEECH_TO_TEXT,
}


@dataclass(frozen=True)
class LiveModel:
    """One entry of the binding's live model list (`AI.models()`), reduced to what the gateway uses."""

    id: str
    workers_ai_task: str
    properties: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def task(self) -> str | None:
        if self.id in BY_ID:
            return BY_ID[self.id].task
        return OWN_TASK_BY_NAME.get(self.id.rsplit("/", 1)[-1]) or TASK_OF_WORKERS_AI.get(self.workers_ai_task)

    @property
    def paid(self) -> bool:
        return str(self.properties.get("require_workers_paid", "")).lower() == "true"

    def as_model(self) -> Model:
        """The catalog's entry when it has one (its facts are richer), else one built from the live entry."""
        if self.id in BY_ID:
            return BY_ID[self.id]
        capabilities = {cap for prop, cap in (("function_calling", "tools"), ("vision", "vision"), ("reasoning", "reasoning"))
                        if str(self.properties.get(prop, "")).lower() == "true"}
        return Model(self.id, self.task or CHAT, frozenset(capabilities), {}, self.paid)


def needs_live_list(name, aliases: dict[str, str]) -> bool:
    """Whether resolving `name` depends on the live list: a name this table cannot place on its own."""
    if not isinstance(name, str) or not name or name in aliases or name in BY_ID:
        return False
    if not name.startswith("@"):
        return not any(m.id.endswith("/" + name) for m in MODELS)
    return True


def resolve(
    name, task: str, *, aliases: dict[str, str], redirect_retired: bool = True, also: tuple[str, ...] = (),
    live: dict[str, LiveModel] | None = None,
) -> Resolved:
    """The model for a request to an endpoint of `task` (or of the `also` tasks).

    `live` is the binding's current model list when it could be read (None: this table alone
    decides). An id the live list knows is served even if this table calls it retired.
    Raises ApiError: 400 for a name of the wrong type or a model of another task,
    404 for an unknown or (with redirection off) retired model.
    """
    from .errors import ApiError, bad_request, not_found
    from .limits import is_header_safe

    tasks = (task, *also)
    if name is None or name == "":
        model_id, via = DEFAULT_MODEL[task], "default"
        name = model_id
    elif not isinstance(name, str):
        raise bad_request("`model` must be a string.", param="model", code="invalid_model")
    elif not is_header_safe(name):
        # It is echoed in X-Requested-Model: printable ASCII of bounded length, or 400.
        raise bad_request("`model` must be at most 256 printable ASCII characters.", param="model", code="invalid_model")
    elif name in aliases:
        model_id, via = aliases[name], "alias"
    else:
        model_id, via = name, "id"
        if model_id not in BY_ID and not model_id.startswith("@"):
            known = set(BY_ID) | set(live or {}) | set(RETIRED)
            suffix_matches = [i for i in known if i.endswith("/" + model_id)]
            if len(suffix_matches) == 1:
                model_id = suffix_matches[0]
            elif (family := family_alias(model_id, aliases)) is not None:
                model_id, via = aliases[family], "family"

    live_entry = (live or {}).get(model_id) if model_id not in BY_ID else None
    replacement = retired_replacement(model_id) if live_entry is None else None
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
    if model is None and live_entry is not None:
        if live_entry.task is None:
            raise bad_request(
                f"'{model_id}' is a {live_entry.workers_ai_task} model, which this gateway does not serve.",
                param="model", code="model_task_mismatch",
            )
        model, via = live_entry.as_model(), "live" if via == "id" else via
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


# Embedding models trained with Matryoshka representation learning: their vectors keep their meaning when cut
# to a leading prefix (and re-normalised), so OpenAI's `dimensions` is honoured for them and refused for the rest.
# Cloudflare's model pages (cloudflare-docs src/content/workers-ai-models/, read at 03a4107 and 8cd2f79) list no
# output sizes; the sizes are the models' own cards: EmbeddingGemma 768/512/256/128, Qwen3-Embedding any 32-1024.
MATRYOSHKA_DIMENSIONS: dict[str, tuple[int, ...]] = {
    "@cf/google/embeddinggemma-300m": (768, 512, 256, 128),
    "@cf/qwen/qwen3-embedding-0.6b": tuple(range(32, 1025)),
}
