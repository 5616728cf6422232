"""``make bench``: the service's latency, throughput, memory and start-up, judged against a floor.

A single run starts its own mosquitto, measures a do-nothing responder (the *floor*: what any Python
MQTT responder costs on this machine, this broker, this load generator) and then ``ocpp-station
serve``, and reports the service as ratios to the floor. Ratios survive a change of machine;
absolute figures do not. See bench/README.md.
"""
