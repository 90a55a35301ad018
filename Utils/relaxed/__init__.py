"""The maths of the relaxed discrete distributions, one concept per module (TensorFlow, vectorised).

    families        the table of relaxed categorical families (GS, IGR-I, IGR-Planar, IGR-SB-Finite, IGR-SB): what
                    each samples and how; every other module dispatches on a family through it
    noise           Uniform, Gumbel, logistic and Box-Muller normal noise (the only place noise is drawn)
    softmax_pp      softmax++ and the tempered, masked map of IGR's lam to the simplex; the zero-temperature vertex
    gumbel_softmax  the Gumbel-Softmax sample, its ExpConcrete density and sampled KL
    stick_breaking  stick-breaking (plain and in log space), IGR-SB's map and its truncation
    planar          planar flows: the maps, the inverse and the Keras layer
    densities       Gaussian log-density, Gaussian and categorical KLs, the IGR-I density on the simplex
    jacobians       closed-form Jacobians d psi / d (parameters) (the vanished-gradient count)
    quadrature      the zero-temperature category probabilities of IGR-I (Gauss-Legendre)
    bernoulli       the relaxed Bernoulli units (Binary Concrete, IGR-Bernoulli and its Planar and SB variants)
    internal        validation and dtype helpers shared by the modules above

Tensors follow the project layout ``(batch, n, samples, vars)``, categories (GS) or Gaussian dimensions (IGR) on
axis 1, unless a function says otherwise. `Utils.Distributions` re-exports the public names. Importing this package
or `families` does not import TensorFlow (the hyper checks read the family table on machines without it).
"""
