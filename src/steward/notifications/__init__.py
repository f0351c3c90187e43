"""Delivery of notifications to people outside Steward: email and Web Push.

A plain package, not a Django app: it holds no data. Callers (the parent portal) decide who is
told what and keep the subscriptions; this package only delivers, through small interfaces
(`email.send_email`, `push.send_push`) so the route (SMTP, GOV.UK Notify, files for the demo)
is configuration, not code. Messages carry a summary only ("New homework for Sam"): the detail
stays behind sign-in, so a mailbox or a push service never holds school data.
"""
