"""Platform adapters and clients: the only code that knows Shopify from BigCommerce."""
