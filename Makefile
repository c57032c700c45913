# Two commands do all set-up on a fresh machine:
#   make run    install, prepare the local model, index the bundled 范文, start the model server and the app
#   make test   install (browser included) and run every test, the real-model and browser tests too
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONUNBUFFERED := 1

.PHONY: run test setup model model-server stop-model index eval eval-usable eval-decisive bench bench-draft bench-team llama-server team lint visual clean

$(BIN)/python:
	@echo "[setup] 创建虚拟环境 $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.lock pyproject.toml
	@echo "[setup] 安装依赖（requirements.lock 固定版本）……"
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

$(VENV)/.llama: $(VENV)/.installed scripts/install_llama.sh
	bash scripts/install_llama.sh $(VENV)
	@touch $@

setup: $(VENV)/.installed $(VENV)/.llama model

model:
	@bash scripts/fetch_model.sh

model-server: setup
	$(BIN)/python -m drafting.llm.local_server --ensure

stop-model:
	-$(BIN)/python -m drafting.llm.local_server --stop

index: setup
	$(BIN)/drafting index-corpus

run: setup index model-server
	@echo "[app] 文稿助手：http://127.0.0.1:8501"
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501 --server.headless true --browser.gatherUsageStats false

# Team mode on this machine, for trying it out: PostgreSQL, a Chroma server, the bundled 范文 and the app in
# team mode (sign-in header required); Ctrl-C stops them all. The local model server is started unless
# DRAFTING_LLM_BASE_URL names another endpoint.  make team [APP_PORT=8501] [CHROMA_PORT=8000]
APP_PORT ?= 8501
CHROMA_PORT ?= 8000
team: setup $(if $(DRAFTING_LLM_BASE_URL),,model-server)
	$(BIN)/drafting team-up --app-port $(APP_PORT) --chroma-port $(CHROMA_PORT)

test: setup
	@echo "[lint] ruff、ruff format、mypy"
	$(BIN)/ruff check drafting tests evals app.py
	$(BIN)/ruff format --check drafting tests evals app.py
	$(BIN)/mypy drafting
	@bash scripts/system_deps.sh
	$(BIN)/python -m drafting.llm.local_server --ensure
	$(BIN)/python -m pytest

eval: setup model-server
	$(BIN)/python -m evals.run $(if $(LIMIT),--limit $(LIMIT)) $(if $(JUDGE),--judge)

# The usable-draft eval: deterministic defect counts, evidence per principle, one-shot baseline and the
# previous commit in the same run.  make eval-usable SPLIT=holdout LIMIT=4 SYSTEMS=urgent,previous
# RUN=DIR writes into DIR and resumes there (finished drafts are skipped); SLOW_LIMIT=N runs the 慢稿
# round on the first N cases only, after the other systems; CASES_IDS=a,b picks cases; PUBLISH=docs/benchmarks
# copies the report, chart and results there as usable-YYYYMMDD.*.
SPLIT   ?= all
SYSTEMS ?= urgent,slow,baseline,previous
PREVIOUS ?= HEAD^
eval-usable: setup model-server
	$(BIN)/python -m evals.run --cases evals/cases/usable.yaml --split $(SPLIT) --systems $(SYSTEMS) \
		--previous $(PREVIOUS) $(if $(LIMIT),--limit $(LIMIT)) $(if $(JUDGE),--judge) \
		$(if $(RUN),--run-dir $(RUN)) $(if $(SLOW_LIMIT),--slow-limit $(SLOW_LIMIT)) \
		$(if $(CASES_IDS),--cases-ids $(CASES_IDS)) $(if $(PUBLISH),--publish $(PUBLISH)) $(if $(RETRIES),--retries $(RETRIES))

# The decisive usable-draft run (issues 11-13): the first 12 briefs of the genre-interleaved order (12 genres,
# 6 tune + 6 holdout), urgent / one-shot / previous, then one 慢稿 round on the first SLOW_LIMIT briefs; resumable
# in RUN (run the same command again after a stop), published to docs/benchmarks/usable-<date>.*.
# DECISIVE_PREVIOUS: 41db638 is the last measured 急稿 (≈120 s a brief), c3d8ce8 the version the issues measured (≈366 s).
DECISIVE_PREVIOUS ?= 41db638
eval-decisive:
	$(MAKE) eval-usable SPLIT=all LIMIT=$(or $(LIMIT),12) SYSTEMS=urgent,baseline,previous,slow \
		SLOW_LIMIT=$(or $(SLOW_LIMIT),2) PREVIOUS=$(DECISIVE_PREVIOUS) RUN=$(or $(RUN),evals/results/decisive) \
		PUBLISH=$(or $(PUBLISH),docs/benchmarks)

bench-draft: setup index model-server
	$(BIN)/python -m evals.bench_draft $(if $(LENGTHS),--lengths $(LENGTHS))

# Concurrent 急稿 from WRITERS writers (default 4) against the configured endpoint (DRAFTING_LLM_BASE_URL):
# per-writer latency and overall 字/s, written to docs/benchmarks/team-concurrency-<date>.md. Meant for an
# engine with parallel slots (llama-server --parallel 4, vLLM); the local server answers one request at a time.
WRITERS ?= 4
bench-team: setup
	$(BIN)/python -m evals.bench_team --writers $(WRITERS)

# llama.cpp's own server with parallel slots, built from the pinned llama-cpp-python sdist (optional; about
# 10 minutes once). It lands in ~/.cache/drafting/llama-server-<version>/bin/llama-server.
llama-server: setup
	bash scripts/build_llama_server.sh $(VENV)

bench: setup
	$(BIN)/python evals/bench_retrieval.py

lint: setup
	$(BIN)/ruff check drafting tests evals app.py
	$(BIN)/ruff format --check drafting tests evals app.py
	$(BIN)/mypy drafting

visual: setup
	bash scripts/render_docx.sh $(FILE) out/

clean:
	rm -rf $(VENV) .pytest_cache
