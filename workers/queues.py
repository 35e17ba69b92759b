"""The four queues of DESIGN section 6, declared once."""
from kombu import Queue

PUSHER = "pusher"
APPSERVICE = "appservice"
FEDERATION_SENDER = "federation_sender"
BACKGROUND = "background"

QUEUE_NAMES = (PUSHER, APPSERVICE, FEDERATION_SENDER, BACKGROUND)
QUEUES = tuple(Queue(name, routing_key=name) for name in QUEUE_NAMES)
