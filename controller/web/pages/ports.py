"""Switch-port shutdowns on the dashboard: approve, reject, undo and request (issue 7, item 5).

The Network page (:mod:`controller.web.pages.network`) lists the port actions and shows a
button per allowed transition; each button is a small form posting here. Every route needs
:attr:`Permission.PORTS_MANAGE` (operators and administrators) and the CSRF token, acts only
on a device of the caller's units (any other action id is a 404, like an unknown one), then
redirects (303) back with a flash code. A refusal the caller can fix (an action that is no
longer pending, an uplink port) is a 400 with the reason.

Routes (all ``POST``, form-encoded; ``ACTION_ID`` is :attr:`PortAction.id`)::

    /network/ports/ACTION_ID/approve   pending (or failed: retry)  -> approved
    /network/ports/ACTION_ID/reject    pending or approved         -> rejected
                                       field ``reason`` (optional, at most 500 characters)
    /network/ports/ACTION_ID/undo      an applied shutdown         -> a new approved "up" action
    /network/ports/request             a manual shutdown request   -> pending
                                       fields ``device_id``, ``if_index``, ``reason`` (optional);
                                       an uplink is refused here (only the CLI may force it)

Fields every form carries:

- ``csrf_token``: ``{{ caller.csrf_token }}`` (checked by :func:`controller.web.security.actor`);
- ``next`` (optional): where to return, a local path starting with ``/network`` or ``/hosts/``;
  anything else (or none) returns to ``/network``.

Flash codes added to the redirect (``?done=CODE``, texts in :mod:`controller.web.view`):
``port_approved``, ``port_rejected``, ``port_undone``, ``port_requested``.

For the Network page: :func:`controller.store.port_actions.list_views` (``s, scope, states=,
device_id=, limit=``) gives the actions of the caller's units newest first as
:class:`~controller.store.port_actions.ActionView` (the row, device and port names, uplink flag,
live undo); :func:`controller.discovery.enforcement.buttons` ``(view.action, view.undo)`` gives
the buttons to show (``approve``, ``reject``, ``undo``), each the last word of its route above.
Show them only when ``caller.principal.can(Permission.PORTS_MANAGE)``. States: ``pending``,
``approved``, ``applying``, ``applied``, ``failed`` (``error`` says why), ``rejected``; actions:
``down`` (shutdown) and ``up`` (an undo, ``undo_of`` the shutdown's id).

The web process never sends the SNMP SET: it only writes the decision; ``govguard worker``
applies approved actions (:func:`controller.discovery.enforcement.apply_approved`).
"""
