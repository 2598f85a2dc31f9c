"""Alert policy: detections become OCSF Detection Findings with a lifecycle."""
