"""Analysis next to the data: notebook runs (papermill) as jobs, notebook rules, Dask."""
