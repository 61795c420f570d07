"""The pages people use (install flows, the merchant's settings) and who may see them."""
