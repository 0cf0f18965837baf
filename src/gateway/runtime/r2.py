"""The `IMAGES` R2 bucket: objects written from bytes the runtime holds, read back as streams."""

from __future__ import annotations

from pyodide.ffi import JsException, JsProxy, to_js

from ..platform import StorageError, StoredObject
from .ffi import is_null, js_object
from .streams import JsReadableStream


class R2Storage:
    """The `IMAGES` R2 bucket. It is given bytes the runtime holds (a generated image, read into a
    JS Uint8Array by `JsReadableStream.buffer`), so they never enter Python."""

    def __init__(self, bucket: JsProxy):
        self._bucket = bucket

    @staticmethod
    def _stored(obj, body=None) -> StoredObject:
        return StoredObject(
            key=obj.key,
            size=int(obj.size),
            etag=obj.httpEtag,
            uploaded=obj.uploaded.getTime() / 1000,
            content_type=getattr(obj.httpMetadata, "contentType", None) or "application/octet-stream",
            body=body,
        )

    async def put(self, key: str, data, *, content_type: str, metadata: dict[str, str]) -> StoredObject:
        options = js_object({"httpMetadata": js_object({"contentType": content_type}), "customMetadata": js_object(metadata)})
        try:
            # Bytes the runtime already holds (Blob.runtime_bytes) go as they are.
            value = to_js(data) if isinstance(data, (bytes, bytearray)) else data
            obj = await self._bucket.put(key, value, options)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        if is_null(obj):
            raise StorageError("R2 put returned no object")
        return self._stored(obj)

    async def get(self, key: str) -> StoredObject | None:
        try:
            obj = await self._bucket.get(key)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        return None if is_null(obj) else self._stored(obj, JsReadableStream(obj.body))

    async def head(self, key: str) -> StoredObject | None:
        try:
            obj = await self._bucket.head(key)
        except JsException as exc:
            raise StorageError(str(exc)) from None
        return None if is_null(obj) else self._stored(obj)
