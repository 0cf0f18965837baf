"""One module per endpoint family; each exposes async handlers `(ctx, **path_params)`."""
