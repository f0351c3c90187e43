from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "steward.ingest"
    label = "ingest"
    verbose_name = "Ingestion of MIS batches"
