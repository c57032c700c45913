# Two commands do all set-up on a fresh machine:
#   make run    install, prepare the local model, index the bundled 范文, start the model server and the app
#   make test   install (browser included) and run every test, the real-model and browser tests too
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONUNBUFFERED := 1

.PHONY: run test setup model model-server stop-model index eval eval-usable bench bench-draft lint visual clean

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

# The usable-draft eval: deterministic defect counts on evals/cases/usable.yaml, the one-shot baseline
# and the previous commit in the same run.  make eval-usable SPLIT=holdout LIMIT=4 SYSTEMS=urgent,previous
SPLIT   ?= all
SYSTEMS ?= urgent,slow,baseline,previous
PREVIOUS ?= HEAD^
eval-usable: setup model-server
	$(BIN)/python -m evals.run --cases evals/cases/usable.yaml --split $(SPLIT) --systems $(SYSTEMS) \
		--previous $(PREVIOUS) $(if $(LIMIT),--limit $(LIMIT)) $(if $(JUDGE),--judge)

bench-draft: setup index model-server
	$(BIN)/python -m evals.bench_draft $(if $(LENGTHS),--lengths $(LENGTHS))

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
