#!/usr/bin/python3
"""Seeds the fuzz corpus with every frame of the pcap fixtures (one file per frame)."""
import hashlib
import os

from scapy.utils import RawPcapReader

here = os.path.dirname(os.path.abspath(__file__))
fixtures = os.path.join(here, "..", "fixtures", "pcap")
corpus = os.path.join(here, "corpus")
os.makedirs(corpus, exist_ok=True)
count = 0
for name in sorted(os.listdir(fixtures)):
    if name.endswith("_in.pcap"):
        for frame, _ in RawPcapReader(os.path.join(fixtures, name)):
            with open(os.path.join(corpus, hashlib.sha1(frame).hexdigest()[:16]), "wb") as f:
                f.write(frame)
            count += 1
print(f"{count} frames in {corpus}")
