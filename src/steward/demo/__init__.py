"""The demo local authority and the synthetic MIS generator: the top floor, which nothing else imports.

It loads data through every other app's services, so it sits above all of them; keeping it out of
`core` (the ground floor) keeps the layers one-way.
"""
