"""The analytics service: a read model of its own, filled from the event streams, answering the
plant's and the partners' analytics (docs/adr/0006-analytics-read-model.md)."""
