"""One module per OCPP functional block; each maps one version's payloads onto station calls.

:mod:`.base` holds what they share (:class:`~.base.Call`, :class:`~.base.Route`), each block its
handlers and the routes it declares, and :mod:`.routes` every route the station offers.
"""
