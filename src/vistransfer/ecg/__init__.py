"""ECG for the sleep-apnea case study (Section 4.3): RR-interval series from beat annotations
(:mod:`.rr`) and the PhysioNet Apnea-ECG records as per-minute examples (:mod:`.apnea`)."""
