module corralbench

go 1.19
