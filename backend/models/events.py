"""What the models announce: the domain events of the submit/approve/claim workflow.

The models send these signals (blinker, which Flask installs) and know nothing of who
listens; ``backend.notifications`` subscribes at app start and turns each into an outbox
row in the same session, so a message is committed or rolled back with the change that
caused it. Keeping this module free of model and notification imports is what keeps the
models out of an import circle with the notifications package.

Each signal is sent with the model instance as sender (and the keyword arguments named
below); items created another way (imports, fixtures) announce nothing.
"""

from blinker import Namespace

_events = Namespace()

#: ``User.register``: a new user (sender) accepted the terms of use.
user_registered = _events.signal("user-registered")
#: ``User.change_email``: the user (sender) has a new address.
email_changed = _events.signal("email-changed")
#: ``NeedsApprove.submit``: a site, flavor or benchmark (sender) awaits review.
resource_submitted = _events.signal("resource-submitted")
#: ``NeedsApprove.approve``: an admin approved the submission or claim (sender).
resource_approved = _events.signal("resource-approved")
#: ``NeedsApprove.reject``: an admin rejected (deleted) the submission or claim (sender).
resource_rejected = _events.signal("resource-rejected")
#: ``HasClaims.claim``: the result (sender) was claimed; ``claim=`` the new claim.
result_claimed = _events.signal("result-claimed")
#: ``Claim.reject``: the result (sender) lost its last claim and is listed again.
result_restored = _events.signal("result-restored")
