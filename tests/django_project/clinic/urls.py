from django.urls import path

from clinic import views

urlpatterns = [
    path("book/", views.book),
    path("invite/", views.invite),
    path("remind/", views.remind),
    path("newsletter/", views.newsletter),
]
