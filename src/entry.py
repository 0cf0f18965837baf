"""Worker entry: one handler behind both Python Workers entry styles.

- Modern runtime (compatibility date >= 2025-08-14): only `class Default(WorkerEntrypoint)` is called.
- Legacy runtime (workerd builds that embed Pyodide, used offline): only module-level `on_fetch`.
"""

from gateway.runtime import serve


async def on_fetch(request, env, ctx=None):
    return await serve(request, env, runtime="legacy", ctx=ctx)


try:
    from workers import WorkerEntrypoint
except ImportError:  # the legacy runtime has no `workers` module
    WorkerEntrypoint = None

if WorkerEntrypoint is not None:

    class Default(WorkerEntrypoint):
        async def fetch(self, request):
            return await serve(request, self.env, runtime="modern", ctx=getattr(self, "ctx", None))
