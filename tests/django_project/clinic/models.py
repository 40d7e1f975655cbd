from django.db import models


class Booking(models.Model):
    email = models.EmailField()
    phone = models.CharField(max_length=30, blank=True)
