from django.urls import re_path

from apps.carts.api.views import CartConvertView, CartItemsView, CartItemView, CartView

urlpatterns = [
    re_path(r"^cart/?$", CartView.as_view(), name="cart"),
    re_path(r"^cart/items/?$", CartItemsView.as_view(), name="cart-items"),
    re_path(r"^cart/convert-to-order/?$", CartConvertView.as_view(), name="cart-convert"),
    re_path(r"^cart/items/(?P<product_sku>[^/]+)/?$", CartItemView.as_view(), name="cart-item"),
]
