# The real local model (SmolLM2-135M on llama.cpp), see docs/local-model.md.
# Included from the Makefile; the work is done by scripts/local-model.sh.
LLAMA_VENV ?= .venv-llama
LLAMA_PORT ?= 8081
LOCAL_MODEL_ENV := PYTHON=$(PYTHON) LLAMA_VENV=$(LLAMA_VENV) LLAMA_PORT=$(LLAMA_PORT)

.PHONY: local-model local-model-serve serve-local

# Build llama-cpp-python[server] into $(LLAMA_VENV) and install the weights; a no-op when a smoke
# completion already works.
local-model:
	$(LOCAL_MODEL_ENV) scripts/local-model.sh build

# Only the model server, in the foreground, on $(LLAMA_PORT).
local-model-serve: local-model
	$(LOCAL_MODEL_ENV) scripts/local-model.sh serve

# The model server (background, health-checked) and the gateway on the `local` policy, port 4000.
serve-local: $(STAMP) local-model
	$(LOCAL_MODEL_ENV) scripts/local-model.sh demo 4000
