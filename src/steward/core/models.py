"""Core has no tables; this module exists so that migrate signals reach its AppConfig."""
