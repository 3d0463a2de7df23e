"""The receiver application: ingest, query and admin APIs and the dashboard over one store.

>>> receiver = Receiver(load_config({"keys": "keys/receiver.private.jwks.json"}))  # doctest: +SKIP
>>> async with receiver:                                                  # doctest: +SKIP
...     transport = httpx.ASGITransport(receiver.app)

:func:`create_app` returns the same application with a lifespan that opens and closes the
store, for ASGI servers (``uvicorn --factory``).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from telemetry_service.common.clock import Clock, utc_now
from telemetry_service.wire import Decryptor

from .api import routers
from .api import signin as signin_api
from .api.fast_ingest import FastIngest, FastIngestApp
from .config import ReceiverConfig
from .cors import IngestCors
from .errors import StartupError
from .events import EventIngest
from .http import install_error_handlers
from .ingest import IngestService
from .keyfile import load_decryptor
from .metrics import Metrics
from .public.routes import public_router
from .public.service import PublicStats
from .retention import RetentionTask
from .signin import SessionKeys, SignIn
from .storage import ReportStore, open_report_store
from .storage.fold import FoldTask
from .web.pages import DashboardPages, dashboard_router

__all__ = ["Receiver", "create_app"]


def _version() -> str:
    try:
        return importlib.metadata.version("telemetry-service")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a source checkout
        return "0+unknown"


class Receiver:
    """One receiver process's state: config, keys, store, metrics, retention, the ASGI app.

    The private key set is loaded (and its file mode checked) on construction, so a bad key
    file fails before anything listens. `store`, `decryptor` and `clock` are injectable.
    """

    def __init__(
        self,
        config: ReceiverConfig,
        *,
        store: ReportStore | None = None,
        decryptor: Decryptor | None = None,
        clock: Clock = utc_now,
        retention_interval_s: float = 86_400.0,
    ) -> None:
        self.config = config
        self.clock = clock
        self.metrics = Metrics()
        if decryptor is None:
            if config.keys is None:
                raise StartupError(
                    "no private key set: set `keys` in the receiver config or pass --keys "
                    "(create one with `telemetry-service receiver keys generate`)"
                )
            decryptor = load_decryptor(
                config.keys,
                max_input_bytes=config.server.max_body_bytes,
                max_inflated_bytes=config.limits.max_inflated_bytes,
            )
        self.decryptor = decryptor
        if store is None and (old := config.misplaced_default_store()):
            raise StartupError(
                f"the reports of an earlier version are in {old}: move that file (with its -wal "
                f"and -shm files) to {config.path.data}/, or set store.url to sqlite://{old}"
            )
        self.store = store or open_report_store(
            config.store_url, pool_timeout_s=config.store.pool_timeout_seconds
        )
        self.signin = SignIn(config.store_url, clock=clock)
        self.keys = SessionKeys(config.auth.api_keys, self.signin)
        self.ingest = IngestService(
            decryptor=decryptor,
            store=self.store,
            products=config.products,
            limits=config.limits,
            max_body_bytes=config.server.max_body_bytes,
            metrics=self.metrics,
            clock=clock,
        )
        self.event_ingest = EventIngest(
            store=self.store,
            products=config.products,
            limits=config.limits,
            retention_days=config.retention.days,
            metrics=self.metrics,
            budget=self.ingest.budget,
            clock=clock,
        )
        self.retention = RetentionTask(
            self.store,
            days=config.retention.days,
            metrics=self.metrics,
            clock=clock,
            interval_s=retention_interval_s,
        )
        #: The field aggregate's fold (``store.foldInterval``, ``store.foldBatch...``).
        self.fold = FoldTask(
            self.store,
            interval_s=config.store.fold_interval,
            batch=config.store.fold_batch,
            batch_bytes=config.store.fold_batch_bytes,
            batch_cells=config.store.fold_batch_cells,
        )
        #: The public statistics (``public.enabled``), refreshed in the background.
        self.public = PublicStats(self.store, config.public, clock=clock)
        self.metrics.gauge(
            "telemetry_receiver_ingest_in_flight",
            "Ingest requests past admission.",
            lambda: self.ingest.in_flight + self.event_ingest.in_flight,
        )
        self.metrics.gauge(
            "telemetry_receiver_store_write_queue",
            "Writes waiting for the store's writer thread.",
            lambda: self.store.write_queue + self.store.events.write_queue,
        )
        self._started = False
        self.app = self._build_app()

    async def start(self) -> None:
        """Open the store (connect, migrate) and start the retention task."""
        if self._started:
            return
        await self.store.open()
        try:
            await self.signin.open()
        except BaseException:
            await self.store.close()
            raise
        self._started = True
        self.retention.start()
        self.fold.start()
        if self.config.public.enabled:
            self.public.start()

    async def stop(self) -> None:
        """Stop retention, finish queued writes and close the store."""
        if not self._started:
            return
        self._started = False
        await self.retention.stop()
        await self.fold.stop()
        await self.signin.close()
        await self.public.stop()
        await self.store.close()
        self.ingest.close()

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _build_app(self) -> FastAPI:
        @contextlib.asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        app = FastIngestApp(
            title="telemetry-service receiver",
            version=_version(),
            description="The telemetry cluster: receives encrypted usage reports, stores them "
            "and answers queries about them.",
            docs_url=None,
            redoc_url=None,
            lifespan=lifespan,
        )
        install_error_handlers(app, retry_after=self.config.limits.retry_after_seconds)
        app.fast_ingest = functools.partial(
            FastIngest, service=self.ingest, retry_after=self.config.limits.retry_after_seconds
        )
        app.add_middleware(IngestCors)
        for name in (
            "config",
            "store",
            "metrics",
            "keys",
            "ingest",
            "event_ingest",
            "decryptor",
            "clock",
            "signin",
        ):
            setattr(app.state, name, getattr(self, name))
        for router in (*routers(), signin_api.router):
            app.include_router(router)
        pages = DashboardPages(
            version=_version(), auth_required=self.keys.configured, clock=self.clock
        )
        app.include_router(dashboard_router(pages))
        if self.config.public.enabled:
            app.include_router(public_router(self.public, version=_version()))
        return app


def create_app(config: ReceiverConfig, **kwargs: Any) -> FastAPI:
    """The receiver's ASGI app; its lifespan opens and closes the store."""
    return Receiver(config, **kwargs).app
