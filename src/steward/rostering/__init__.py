"""Rostering and sign-in: OneRoster 1.2 for learning platforms and OpenID Connect for apps, as each school approved."""
