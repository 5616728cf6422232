# Two commands a newcomer needs: `make run` (a station on an embedded broker) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint mosquitto rabbitmq bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# make run can do without mosquitto (the station falls back to amqtt, MQTT 3.1.1 only); make test cannot.
run: MOSQUITTO_OPTIONAL := yes
run: $(VENV)/.installed mosquitto  ## start a station on a private mosquitto at 127.0.0.1:1883 (station-data/broker)
	$(VENV)/bin/ocpp-station serve --data-dir station-data --no-csms

# Debian's mosquitto and mosquitto-clients: make run's private broker, the tests' brokers and their
# mosquitto_rr/_pub/_sub. /usr/sbin, where the broker lives, is not on a user's PATH.
mosquitto:  ## install mosquitto and mosquitto-clients (Debian packages) unless they are there
	@if { command -v mosquitto || test -x /usr/sbin/mosquitto; } >/dev/null && command -v mosquitto_rr >/dev/null; \
	then :; \
	elif $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		$(SUDO) apt-get install -y -qq mosquitto mosquitto-clients >/dev/null; then :; \
	elif [ -n "$(MOSQUITTO_OPTIONAL)" ]; then \
		echo "make: could not install mosquitto: the station falls back to amqtt (MQTT 3.1.1 only)" >&2; \
	else exit 1; fi

# Debian's rabbitmq-server: the fleet tests' two-node broker cluster (tests/integration/rabbit_rig.py starts
# its own nodes on free ports; the system node the package would start under systemd is disabled).
rabbitmq:  ## install rabbitmq-server (Debian package) unless it is there
	@test -x /usr/lib/rabbitmq/bin/rabbitmq-server || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq rabbitmq-server >/dev/null && \
		if [ -d /run/systemd/system ]; then $(SUDO) systemctl disable --now rabbitmq-server; fi; }

lint: $(VENV)/.installed  ## ruff on everything, mypy on the package
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy

test: $(VENV)/.installed mosquitto rabbitmq lint  ## lint, then the whole suite against real brokers
	$(PY) -m pytest -q

bench: $(VENV)/.installed mosquitto  ## floor vs service through a private mosquitto (bench/README.md)
	$(PY) -m bench

clean:
	rm -rf $(VENV) station-data .pytest_cache .ruff_cache
