"""ckm: the roof — the composition root (`ckm.assembly`), `ckm run` (`ckm.runner`), the CLI,
TLS and the Prometheus endpoint. It may import every package; no package imports it."""
